/**
 * What `mxkit local` prints once it is up: where everything listens, the demo credentials, and
 * commands to paste (swaks and python3) for mail out through the relay and mail in to postmaster.
 * Paths are shown relative to the working directory when they are inside it, so commands stay short.
 */
import type { Endpoints } from './endpoints';
import type { StoredMessage } from './inbox-store';
import type { ContentScanning } from './local-system';
import { GTUBE } from '../spam/gtube';
import { INBOX_HOSTNAME, INBOX_IP, INBOX_RECIPIENT, LOCAL_SPAM, MAIL_DOMAIN, POSTMASTER, POSTMASTER_FORWARD, SENDER_DOMAIN, SENDER_IP } from './settings';
import { REVERSE_ZONE } from './reverse-zone';
import { LOCAL_ZONES } from './zones';
import { CHECKS } from './verdicts';
import { shown } from './shown-path';

export interface BannerContext {
  stateDir: string;
  caFile: string;
  endpoints: Endpoints;
  health: number;
  inboxSmtpPort: number;
  /** The bundle this runs from, for the `mxkit check` command line. */
  bundle: string;
  scanning: ContentScanning;
}

/**
 * `mxkit check` of this stack, every option from the endpoints: the relay's certificate as CA, no
 * blocklists (they cannot be asked through a DNS that never recurses) and no closed-port check
 * (loopback has no firewall; the laptop's own sshd is not the relay's business).
 */
export function checkCommand(bundle: string, e: Endpoints, caFile: string): string {
  return (
    `node ${shown(bundle)} check --domain ${MAIL_DOMAIN} --dns-server ${e.dns.host}:${e.dns.port} ` +
    `--smtp-port ${e.mx.port} --submission-port ${e.submission.port} --submissions-port ${e.submissions.port} ` +
    `--https-port ${e.mtaSts.port} --ca ${shown(caFile)} --dnsbl none --closed-ports none`
  );
}

export function banner(context: BannerContext): string[] {
  const { endpoints: e } = context;
  const ca = shown(context.caFile);
  const to = INBOX_RECIPIENT;
  const swaksOut =
    `swaks --server ${e.submission.host} --port ${e.submission.port} --tls --tls-verify --tls-ca-path ${ca} ` +
    `--auth PLAIN --auth-user ${e.user.username} --auth-password ${e.user.password} --from ${e.user.address} --to ${to}`;
  const body = `From: ${e.user.address}\\r\\nTo: ${to}\\r\\nSubject: hello from mxkit local\\r\\n\\r\\nIt works.\\r\\n`;
  const pythonOut =
    `python3 -c "import smtplib, ssl; s = smtplib.SMTP('${e.submission.host}', ${e.submission.port}); ` +
    `s.starttls(context=ssl.create_default_context(cafile='${ca}')); s.login('${e.user.username}', '${e.user.password}'); ` +
    `s.sendmail('${e.user.address}', ['${to}'], '${body}'); s.quit()"`;
  const swaksIn =
    `swaks --server ${e.mx.host} --port ${e.mx.port} --local-interface ${SENDER_IP} --from alice@${SENDER_DOMAIN} --to ${POSTMASTER} --header 'Subject: hello postmaster'`;
  return [
    `mxkit local is up. State: ${shown(context.stateDir)} (keys, spool, inbox; reused next time). Ctrl-C stops everything.`,
    '',
    `  DNS        ${e.dns.host}:${e.dns.port} (UDP and TCP) for ${LOCAL_ZONES.join(', ')} and ${REVERSE_ZONE} (PTR)`,
    `  relay      mx ${e.mx.host}:${e.mx.port} · submission ${e.submission.host}:${e.submission.port} (STARTTLS) · submissions ${e.submissions.host}:${e.submissions.port} (TLS) · health http://${e.mx.host}:${context.health}/readyz`,
    `  inbox      ${e.inbox.url}  (MX of inbox.test: ${INBOX_HOSTNAME} = ${INBOX_IP}:${context.inboxSmtpPort})`,
    `  demo user  ${e.user.username} / ${e.user.password}  (sends as ${e.user.address} or any *@${MAIL_DOMAIN})`,
    `  CA file    ${ca}  (the relay's self-signed certificate)`,
    `  MTA-STS    https://mta-sts.${MAIL_DOMAIN}:${e.mtaSts.port}/.well-known/mta-sts.txt  (the relay's policy server, at ${e.mtaSts.host})`,
    context.scanning.running
      ? `  rspamd     ${context.scanning.url} (rspamd ${context.scanning.version}, ${shown(context.scanning.binary)}): content scanning on, flag at ${LOCAL_SPAM.flagScore}, refuse at ${LOCAL_SPAM.rejectScore}; the inbox page shows each message's score`
      : `  rspamd     not running (${context.scanning.why}): no content scanning`,
    '',
    'Send a message out through the relay; it shows up on the inbox page with its SPF, DKIM and DMARC verdicts:',
    `  ${swaksOut}`,
    `  ${pythonOut}`,
    '',
    `Send mail in, as a third party, to ${POSTMASTER}; the relay forwards it to ${POSTMASTER_FORWARD} (SRS sender, ARC seal):`,
    `  ${swaksIn}`,
    '',
    ...(context.scanning.running
      ? ['Send the GTUBE test pattern out and rspamd makes the relay refuse it (550 5.7.1):', `  ${swaksOut} --body '${GTUBE}'`, '']
      : []),
    'Check it the way a receiving mail server would (DNS, PTR, MTA-STS, TLS, open relay):',
    `  ${checkCommand(context.bundle, e, context.caFile)}`,
    '',
    'What happened to a message (the inbox page links each one), and the DMARC/TLS reports the relay received:',
    `  node ${shown(context.bundle)} trace ${e.user.address} --config ${shown(context.stateDir)}/relay.json · http://${e.mx.host}:${context.health}/reports`,
    '',
    'Settings for a mail client (Thunderbird, Apple Mail, Outlook, Gmail "Send mail as"):',
    `  node ${shown(context.bundle)} client-settings --config ${shown(context.stateDir)}/relay.json --user ${e.user.username} --server ${e.submission.host}`,
    '',
    'Deferrals and bounces are printed below as they happen, like each arrival at the inbox.',
    '',
    `Records: dig @${e.dns.host} -p ${e.dns.port} ${MAIL_DOMAIN} TXT · relay log: ${shown(context.stateDir)}/relay.log`,
  ];
}

/** One line per arrival, so the terminal shows delivery without opening the page. */
export function arrivalLine(message: StoredMessage): string {
  const checks = CHECKS.map((check) => `${check}=${message.verdicts[check].result}`);
  const verdicts = [...checks, ...(message.spam ? [`spam=${message.spam.score.toFixed(2)}`] : [])].join(' ');
  const tls = message.tls ? message.tls.protocol : 'no TLS';
  return `inbox: "${message.subject}" from <${message.envelope.mailFrom}> to ${message.envelope.rcptTo.join(', ')}: ${verdicts}, ${tls}`;
}
