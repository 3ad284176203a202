/**
 * `mxkit client-settings --config FILE [--user NAME] [--server HOST] [--json]`: what a person types
 * into Thunderbird, Apple Mail, Outlook or Gmail's "Send mail as" to send through this relay:
 * server, port, security, user name, and which addresses that user may send as. Never a password:
 * the config holds only its hash. docs/clients.md shows the output for each client.
 */
import { readNamedFile } from '../config/named-file';
import { SELF_SENDER } from '../config/oauth-schema';
import { ConfigError, parseRelayConfig, type RelayConfig } from '../config/schema';
import { CommandFailure, flag, noMorePositionals, optionalString, requiredString, type Command, type ParsedCommandLine, type Print } from './contract';
import { clientGuides } from './client-guides';

export interface SubmissionPort {
  port: number;
  /** What clients call it: "SSL/TLS" is implicit TLS (465), "STARTTLS" upgrades a plain connection (587). */
  security: 'SSL/TLS' | 'STARTTLS';
}

export interface ClientSettings {
  server: string;
  /** Implicit TLS first: RFC 8314 section 3.3 asks clients to prefer it. */
  ports: SubmissionPort[];
  /** The user asked for with --user. */
  user?: { username: string; sendsAs: string[] };
  /** Everyone's user names (they are not secret), when no --user was given. */
  usernames: string[];
  oauth: Array<{ issuer: string; usernameClaim: string; sendsAs: string[] }>;
}

/** A runtime failure (exit 1): a --user nobody has, a config without submission listeners. */
export class ClientSettingsError extends CommandFailure {
  override name = 'ClientSettingsError';

  constructor(message: string) {
    super(`client-settings: ${message}`);
  }
}

/** `*@example.com` reads "any address @example.com" to a person. */
export function describeSender(pattern: string): string {
  if (pattern === SELF_SENDER) return 'their own address (the token names it)';
  return pattern.startsWith('*@') ? `any address @${pattern.slice(2)}` : pattern;
}

export function clientSettings(config: RelayConfig, options: { user?: string; server?: string } = {}): ClientSettings {
  const ports: SubmissionPort[] = [];
  // A port of 0 is a test listener bound at random: there is nothing to tell a person.
  if (config.listen.submissions?.port) ports.push({ port: config.listen.submissions.port, security: 'SSL/TLS' });
  if (config.listen.submission?.port) ports.push({ port: config.listen.submission.port, security: 'STARTTLS' });
  if (ports.length === 0) throw new ClientSettingsError('this config has no submission or submissions listener: mail clients cannot send through it');
  let user: ClientSettings['user'];
  if (options.user !== undefined) {
    const found = config.users.find((candidate) => candidate.username === options.user);
    if (!found) {
      const known = config.users.map((candidate) => candidate.username);
      throw new ClientSettingsError(`no user "${options.user}" in users${known.length ? ` (there are: ${known.join(', ')})` : ''}`);
    }
    user = { username: found.username, sendsAs: found.allowedFrom.map(describeSender) };
  }
  return {
    server: options.server ?? config.hostname,
    ports,
    ...(user ? { user } : {}),
    usernames: config.users.map((candidate) => candidate.username),
    oauth: config.auth.oauth.map((provider) => ({ issuer: provider.issuer, usernameClaim: provider.usernameClaim, sendsAs: provider.allowedFrom.map(describeSender) })),
  };
}

/** The settings as lines a person reads (the summary, then each client's menus). */
export function formatClientSettings(settings: ClientSettings, domains: readonly string[]): string[] {
  const [preferred, ...others] = settings.ports;
  const portLine = (entry: SubmissionPort) => `${entry.port}, security ${entry.security}${entry.security === 'SSL/TLS' ? ' (implicit TLS)' : ''}`;
  const username = settings.user?.username ?? '<your mxkit user name>';
  const lines = [
    `Outgoing mail (SMTP) settings for ${settings.server}`,
    '',
    'mxkit sends and forwards mail; it keeps no mailboxes. Read your mail where your routes deliver it',
    '(your existing mailbox) and add this server there as the outgoing server.',
    '',
    `  Server          ${settings.server}`,
    `  Port            ${portLine(preferred)}${others.length ? '   <- use this one' : ''}`,
    ...others.map((entry) => `                  ${portLine(entry)}   (if ${preferred.port} is blocked where you are)`),
    '  Authentication  normal password (PLAIN or LOGIN), only over TLS',
    settings.user
      ? `  User name       ${settings.user.username}   (the mxkit user name, not necessarily an address)`
      : `  User name       your mxkit user name, not necessarily an address${settings.usernames.length ? ` (users here: ${settings.usernames.join(', ')})` : ''}`,
    '  Password        the one you chose; mxkit keeps only its hash and cannot show it',
    ...(settings.user ? [`  Sends as        ${settings.user.sendsAs.join(', ')}`] : []),
    ...settings.oauth.flatMap((provider) => [
      `  OAuth 2.0       tokens from ${provider.issuer} (XOAUTH2, OAUTHBEARER): user name is the token's "${provider.usernameClaim}" claim,`,
      `                  sends as ${provider.sendsAs.join(', ')}`,
    ]),
    '',
    ...clientGuides({ server: settings.server, port: preferred.port, security: preferred.security, username, example: exampleAddress(settings, domains) }),
    '',
    `Mail clients that look up SRV records (RFC 6186) find ${settings.server} from the address alone: _submissions._tcp and _submission._tcp under each domain.`,
  ];
  return lines;
}

/** An address to show in the Gmail steps: the user's first exact one, else one in the first domain. */
function exampleAddress(settings: ClientSettings, domains: readonly string[]): string {
  const exact = settings.user?.sendsAs.find((entry) => /^[^\s@*]+@[^\s@]+$/.test(entry));
  if (exact) return exact;
  const wildcard = settings.user?.sendsAs.find((entry) => entry.startsWith('any address @'));
  return `you@${wildcard ? wildcard.slice('any address @'.length) : (domains[0] ?? 'example.com')}`;
}

/**
 * The config, with users' password hashes not required: these settings never need them, so the
 * stack's `relayConfig` output (hashes redacted) works as well as the file on the host.
 */
export async function readConfigForSettings(path: string): Promise<RelayConfig> {
  const text = (await readNamedFile('--config', path)).toString('utf8');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new ConfigError(`--config: ${path} is not valid JSON`);
  }
  const users = (document as { users?: unknown }).users;
  if (Array.isArray(users)) {
    for (const user of users as Array<Record<string, unknown>>) {
      if (typeof user === 'object' && user !== null && !/^\$scrypt\$/.test(String(user.passwordHash))) user.passwordHash = '$scrypt$not-needed-here';
    }
  }
  return parseRelayConfig(document);
}

export const clientSettingsCommand: Command = {
  name: 'client-settings',
  synopsis: 'client-settings --config FILE [--user NAME] [--server HOST] [--json]',
  summary: 'what to type into Thunderbird, Apple Mail, Outlook, Gmail (no password)',
  usage: `usage: mxkit client-settings --config FILE [--user NAME] [--server HOST] [--json]
  the outgoing-mail settings for mail clients: server, ports and security, user name, the
  addresses the user may send as, OAuth issuers, and each client's menus (docs/clients.md)
  --config FILE   the relay config, or the stack's relayConfig output (hashes redacted)
  --user NAME     one user's settings and allowed senders
  --server HOST   the server name to show (default: the config's hostname)
  --json          the settings as JSON; never a password or its hash`,
  options: { config: { type: 'string' }, user: { type: 'string' }, server: { type: 'string' }, json: { type: 'boolean' } },
  run: runClientSettingsCommand,
};

async function runClientSettingsCommand(args: ParsedCommandLine, print: Print): Promise<number> {
  noMorePositionals(args, 0);
  const config = await readConfigForSettings(requiredString(args, 'config'));
  const user = optionalString(args, 'user');
  const server = optionalString(args, 'server');
  const settings = clientSettings(config, { ...(user !== undefined ? { user } : {}), ...(server !== undefined ? { server } : {}) });
  if (flag(args, 'json')) print(JSON.stringify(settings, null, 2));
  else formatClientSettings(settings, config.domains).forEach(print);
  return 0;
}
