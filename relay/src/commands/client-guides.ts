/**
 * Where each common mail client wants the outgoing server, in its own words (menu names as the
 * clients show them in English). Kept apart from client-settings.ts because these texts change
 * whenever a client redesigns its settings, and docs/clients.md repeats them.
 */
export interface GuideInput {
  server: string;
  port: number;
  security: 'SSL/TLS' | 'STARTTLS';
  username: string;
  /** An address the user may send as, for the Gmail steps. */
  example: string;
}

export function clientGuides(input: GuideInput): string[] {
  const { server, port, username } = input;
  const implicit = input.security === 'SSL/TLS';
  return [
    'Thunderbird  Settings > Account Settings > Outgoing Server (SMTP) > Add:',
    `             Server Name ${server}, Port ${port}, Connection security ${implicit ? 'SSL/TLS' : 'STARTTLS'},`,
    `             Authentication method "Normal password", User Name ${username}.`,
    '             Then pick this server as the Outgoing Server (SMTP) of the account you send from.',
    'Apple Mail   Mail > Settings > Accounts > (account) > Server Settings > Outgoing Mail Account > Edit SMTP Server List > +:',
    `             Host Name ${server}; untick "Automatically manage connection settings";`,
    `             Port ${port}${implicit ? ', tick "Use TLS/SSL"' : ', tick "Use TLS/SSL" (STARTTLS)'}, Authentication "Password", User Name ${username}.`,
    'Outlook      File > Account Settings > Account Settings > (account) > Change:',
    `             Outgoing mail server (SMTP) ${server}; then More Settings > Outgoing Server: tick`,
    `             "My outgoing server (SMTP) requires authentication", "Log on using" User Name ${username};`,
    `             Advanced: Outgoing server (SMTP) ${port}, "Use the following type of encrypted connection" ${implicit ? 'SSL/TLS' : 'STARTTLS'}.`,
    'Gmail        Settings > See all settings > Accounts and Import > "Send mail as" > Add another email address:',
    `             Name, Email address ${input.example}, Next Step; SMTP Server ${server}, Port ${port},`,
    `             Username ${username}, Password, "${implicit ? 'Secured connection using SSL' : 'Secured connection using TLS'}", Add Account.`,
    `             Gmail then mails a confirmation code to ${input.example}; it reaches you if a route forwards that address`,
    '             to a mailbox you read (a `*@domain` route does).',
  ];
}
