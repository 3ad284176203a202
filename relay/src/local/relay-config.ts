/**
 * The relay's config for `mxkit local`, made by the infra's own relay-config builder (the function
 * a real stack's deployment uses) with local paths, loopback listeners and the local DNS and inbox
 * as "the internet". Only the inputs differ from production, never the code that shapes the config.
 */
import { defaultReportMailboxes } from '../../../infra/builders/records';
import { buildRelayConfig, filesUnder, type RelayFiles } from '../../../infra/builders/relay-config';
import type { RelayConfigInput } from '../config/schema';
import { DKIM_SELECTOR, INBOX_IP, LOCAL_SPAM, MAIL_DOMAIN, MAIL_HOSTNAME, MAIL_IP, MTA_STS, POSTMASTER, POSTMASTER_FORWARD } from './settings';
import type { LocalPorts } from './settings';

export interface LocalRelayInput {
  stateDir: string;
  ports: LocalPorts;
  dns: { host: string; port: number };
  inboxPort: number;
  user: { username: string; passwordHash: string };
  /** rspamd's URL when it runs; without it the relay runs with no content scanning. */
  rspamdUrl?: string;
}

/** Where the relay reads its files: the state folder is both the host's /run/mxkit and its data volume. */
export function localRelayFiles(stateDir: string): RelayFiles {
  return filesUnder(stateDir, stateDir);
}

export function localRelayConfig(input: LocalRelayInput): RelayConfigInput {
  const on = (port: number) => ({ host: MAIL_IP, port });
  const config = buildRelayConfig({
    hostname: MAIL_HOSTNAME,
    domains: [MAIL_DOMAIN],
    files: localRelayFiles(input.stateDir),
    dkimSelector: DKIM_SELECTOR,
    users: [{ username: input.user.username, passwordHash: input.user.passwordHash, allowedFrom: [`*@${MAIL_DOMAIN}`] }],
    routes: [{ match: POSTMASTER, forward: [POSTMASTER_FORWARD] }],
    tls: { mode: 'self-signed' },
    mtaSts: MTA_STS,
    listen: {
      mx: on(input.ports.mx),
      submission: on(input.ports.submission),
      submissions: on(input.ports.submissions),
      http: on(input.ports.relayHttp),
      https: on(input.ports.https),
    },
    // Every MX lookup goes to the local DNS and every delivery to the local internet's SMTP port,
    // which is also what the outbound port-25 probe checks (mxkit_outbound_port25_open).
    delivery: { dnsServers: [`${input.dns.host}:${input.dns.port}`], port: input.inboxPort, port25Probe: { host: INBOX_IP, port: input.inboxPort, interval: '1h' } },
    ...(input.rspamdUrl ? { spam: { rspamd: { url: input.rspamdUrl, ...LOCAL_SPAM, timeout: '10s', onError: 'accept' } } } : {}),
    reports: localReports(),
  });
  // "The internet" of `mxkit local` is on loopback; production configs never set this.
  return { ...config, delivery: { ...config.delivery, allowPrivateAddresses: true } };
}

/** The relay's report and complaint mailboxes, the ones the local DMARC and TLS-RPT records name. */
function localReports(): { dmarc: string[]; tlsRpt: string[]; complaints: string[] } {
  const mailboxes = defaultReportMailboxes(MAIL_DOMAIN);
  return { dmarc: [mailboxes.dmarc], tlsRpt: [mailboxes.tlsRpt], complaints: [mailboxes.complaints] };
}
