/**
 * Starts the whole local mail system in dependency order (state → DNS → inbox → relay), publishes
 * endpoints.json when asked, and stops it all in reverse. If any step fails, what already started
 * is stopped before the error goes up, so a failed start leaves no process and no listener behind.
 */
import { basename } from 'node:path';
import { hashPassword } from '../intake/password';
import { removeEndpoints, writeEndpoints, type Endpoints } from './endpoints';
import { LocalError } from './errors';
import { startDnsServer, ZoneAnswerer } from './dns-server';
import { startInboxMta } from './inbox-mta';
import { startInboxPage } from './inbox-page';
import { InboxStore, type StoredMessage } from './inbox-store';
import { startRelayChild } from './relay-child';
import { localRelayConfig, localRelayFiles } from './relay-config';
import { localResolver } from './resolver';
import { findRspamd, startRspamd } from './rspamd';
import { RspamdClient } from '../spam/rspamd-client';
import { certificate, demoUser, dkimKey } from './secrets';
import { DEMO_ADDRESS, DEMO_USERNAME, INBOX_DOMAIN, INBOX_HOSTNAME, INBOX_IP, LOCAL_SPAM, MAIL_DOMAIN, MAIL_HOSTNAME, MAIL_IP, type LocalPorts } from './settings';
import { StateFolder } from './state-folder';
import { localRecords, LOCAL_ZONES, SERVED_ZONES } from './zones';
import { deliveryNews } from './delivery-news';
import { shown } from './shown-path';

export const SENDER_DKIM_KEY_FILE = 'sender-dkim.key';

export interface LocalSystemOptions {
  stateDir: string;
  ports: LocalPorts;
  /** dist/mxkit.js: the relay child runs the same bundle. */
  bundle: string;
  onMessage?(message: StoredMessage): void;
  /** Delivery news from the relay's log (deferrals, bounces, next tries), one terminal line each. */
  onRelayNews?(line: string): void;
  /** Where to look for rspamd (default: PATH, then Debian's paths); null: never start it. */
  rspamdBinary?: string | null;
}

/** Whether content scanning runs, for the banner: rspamd's URL and version, or why not. */
export type ContentScanning = { running: true; url: string; version: string; binary: string } | { running: false; why: string };

export interface LocalSystem {
  folder: StateFolder;
  endpoints: Endpoints;
  caFile: string;
  ports: { health: number; inboxSmtp: number };
  scanning: ContentScanning;
  /** Writes endpoints.json: the sign, for tools, that everything is up (call it last). */
  publish(): Promise<void>;
  /** Settles when the relay process ends on its own (a crash); stop() does not count. */
  relayDied: Promise<string>;
  /** Ends the relay at once, for a second Ctrl-C while stop() waits for its graceful drain. */
  killRelay(): void;
  stop(): Promise<void>;
}

export async function startLocalSystem(options: LocalSystemOptions): Promise<LocalSystem> {
  const folder = new StateFolder(options.stateDir);
  const closers: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const close of closers.reverse().splice(0)) await close().catch(() => undefined);
  };
  try {
    await folder.open();
    closers.push(() => folder.unlock());
    // A file from a run that was killed would tell waiters "ready" with dead ports.
    await removeEndpoints(folder);
    closers.push(() => removeEndpoints(folder));

    const files = localRelayFiles(folder.root);
    const mailKey = await dkimKey(folder, basename(files.dkimKey));
    const senderKey = await dkimKey(folder, SENDER_DKIM_KEY_FILE);
    const relayTls = await certificate(folder, basename(files.tlsCert, '.crt'), [MAIL_HOSTNAME, `mta-sts.${MAIL_DOMAIN}`, 'localhost', MAIL_IP]);
    const inboxTls = await certificate(folder, 'inbox-tls', [INBOX_HOSTNAME, INBOX_IP]);
    const user = await demoUser(folder, 'demo-user.json', { username: DEMO_USERNAME, address: DEMO_ADDRESS });

    const zoneKeys = { mailDkim: mailKey.publicKeyPem, senderDkim: senderKey.publicKeyPem };
    const answerer = new ZoneAnswerer(localRecords(zoneKeys), SERVED_ZONES);
    const dns = await startDnsServer(answerer, MAIL_IP, options.ports.dns);
    closers.push(() => dns.close());

    // Content scanning when rspamd is installed (Debian: apt install rspamd); without it, none.
    const binary = options.rspamdBinary === null ? undefined : (options.rspamdBinary ?? findRspamd());
    let scanning: ContentScanning = { running: false, why: options.rspamdBinary === null ? 'turned off with --rspamd off' : 'rspamd is not installed (apt install rspamd)' };
    if (binary) {
      try {
        const rspamd = await startRspamd({ binary, dir: folder.path('rspamd'), host: MAIL_IP, port: options.ports.rspamd, dnsServer: `${dns.host}:${dns.port}`, ...LOCAL_SPAM });
        closers.push(() => rspamd.stop());
        scanning = { running: true, url: rspamd.url, version: rspamd.version, binary };
      } catch (error) {
        // A broken or busy rspamd must not keep the rest from running: the banner says why.
        scanning = { running: false, why: error instanceof Error ? error.message.replace(/^local: /, '') : String(error) };
      }
    }
    const scanner = scanning.running ? new RspamdClient(scanning.url, 10_000) : undefined;

    const store = new InboxStore(folder.path('inbox'));
    if (options.onMessage) store.onMessage(options.onMessage);
    const mta = await startInboxMta({
      host: INBOX_IP,
      port: options.ports.inboxSmtp,
      hostname: INBOX_HOSTNAME,
      domain: INBOX_DOMAIN,
      relayHostname: MAIL_HOSTNAME,
      tls: { key: inboxTls.key, cert: inboxTls.cert },
      store,
      resolver: localResolver(dns.host, dns.port),
      ...(scanner ? { scanner } : {}),
    });
    closers.push(() => mta.close());
    // Traces live on the relay's ops listener, whose port is known once the relay has started.
    const relayOps: { base?: string } = {};
    const traceUrl = (queueId: string) => (relayOps.base ? `${relayOps.base}/trace/${encodeURIComponent(queueId)}` : undefined);
    const page = await startInboxPage({ host: MAIL_IP, port: options.ports.inboxPage, store, domain: INBOX_DOMAIN, mta: `${INBOX_HOSTNAME} (${INBOX_IP})`, traceUrl });
    closers.push(() => page.close());

    const config = localRelayConfig({
      stateDir: folder.root,
      ports: options.ports,
      dns: { host: dns.host, port: dns.port },
      inboxPort: mta.port,
      user: { username: user.username, passwordHash: await hashPassword(user.password) },
      ...(scanning.running ? { rspamdUrl: scanning.url } : {}),
    });
    await folder.writeAtomic('relay.json', `${JSON.stringify(config, null, 2)}\n`);
    const news = { cli: `node ${shown(options.bundle)}`, configPath: shown(folder.path('relay.json')), knownDomains: LOCAL_ZONES };
    const relay = await startRelayChild({
      bundle: options.bundle,
      configPath: folder.path('relay.json'),
      logPath: folder.path('relay.log'),
      ...(options.onRelayNews ? { onLogLine: (line: Record<string, unknown>) => deliveryNews(line, news).forEach((text) => options.onRelayNews?.(text)) } : {}),
    });
    let stopping = false;
    closers.push(() => {
      stopping = true;
      return relay.stop();
    });
    // Only an exit nobody asked for is news; after stop() began, the exit is the expected end.
    const relayDied = relay.exited.then((code) => (stopping ? new Promise<string>(() => undefined) : code));
    const { mx, submission, submissions, http, https } = relay.addresses;
    if (!mx || !submission || !submissions || !http || !https) throw new LocalError('the relay reported no mx, submission, submissions, http or https listener');
    relayOps.base = `http://${MAIL_IP}:${http.port}`;
    // Now the submission ports are known (--ports auto binds 0): publish them as RFC 6186 SRV records,
    // as a real stack does for 587 and 465, so a mail client (and `mxkit client-settings`) finds them.
    answerer.replaceRecords(localRecords(zoneKeys, { submission: submission.port, submissions: submissions.port }));

    const endpoints: Endpoints = {
      submission: { host: MAIL_IP, port: submission.port },
      mx: { host: MAIL_IP, port: mx.port },
      inbox: { url: page.url },
      dns: { host: dns.host, port: dns.port },
      user: { username: user.username, password: user.password, address: user.address },
      submissions: { host: MAIL_IP, port: submissions.port },
      mtaSts: { host: MAIL_IP, port: https.port },
      ...(scanning.running ? { rspamd: { url: scanning.url } } : {}),
    };
    return {
      folder,
      endpoints,
      caFile: relayTls.certFile,
      publish: () => writeEndpoints(folder, endpoints),
      ports: { health: http.port, inboxSmtp: mta.port },
      scanning,
      relayDied,
      killRelay: () => relay.kill(),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
