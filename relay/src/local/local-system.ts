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
import { certificate, demoUser, dkimKey } from './secrets';
import { DEMO_ADDRESS, DEMO_USERNAME, INBOX_DOMAIN, INBOX_HOSTNAME, INBOX_IP, MAIL_DOMAIN, MAIL_HOSTNAME, MAIL_IP, type LocalPorts } from './settings';
import { StateFolder } from './state-folder';
import { localRecords, SERVED_ZONES } from './zones';

export const SENDER_DKIM_KEY_FILE = 'sender-dkim.key';

export interface LocalSystemOptions {
  stateDir: string;
  ports: LocalPorts;
  /** dist/mxkit.js: the relay child runs the same bundle. */
  bundle: string;
  onMessage?(message: StoredMessage): void;
}

export interface LocalSystem {
  folder: StateFolder;
  endpoints: Endpoints;
  caFile: string;
  ports: { health: number; inboxSmtp: number };
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

    const answerer = new ZoneAnswerer(localRecords({ mailDkim: mailKey.publicKeyPem, senderDkim: senderKey.publicKeyPem }), SERVED_ZONES);
    const dns = await startDnsServer(answerer, MAIL_IP, options.ports.dns);
    closers.push(() => dns.close());

    const store = new InboxStore(folder.path('inbox'));
    if (options.onMessage) store.onMessage(options.onMessage);
    const mta = await startInboxMta({
      host: INBOX_IP,
      port: options.ports.inboxSmtp,
      hostname: INBOX_HOSTNAME,
      domain: INBOX_DOMAIN,
      tls: { key: inboxTls.key, cert: inboxTls.cert },
      store,
      resolver: localResolver(dns.host, dns.port),
    });
    closers.push(() => mta.close());
    const page = await startInboxPage({ host: MAIL_IP, port: options.ports.inboxPage, store, domain: INBOX_DOMAIN, mta: `${INBOX_HOSTNAME} (${INBOX_IP})` });
    closers.push(() => page.close());

    const config = localRelayConfig({
      stateDir: folder.root,
      ports: options.ports,
      dns: { host: dns.host, port: dns.port },
      inboxPort: mta.port,
      user: { username: user.username, passwordHash: await hashPassword(user.password) },
    });
    await folder.writeAtomic('relay.json', `${JSON.stringify(config, null, 2)}\n`);
    const relay = await startRelayChild({ bundle: options.bundle, configPath: folder.path('relay.json'), logPath: folder.path('relay.log') });
    let stopping = false;
    closers.push(() => {
      stopping = true;
      return relay.stop();
    });
    // Only an exit nobody asked for is news; after stop() began, the exit is the expected end.
    const relayDied = relay.exited.then((code) => (stopping ? new Promise<string>(() => undefined) : code));
    const { mx, submission, submissions, http, https } = relay.addresses;
    if (!mx || !submission || !submissions || !http || !https) throw new LocalError('the relay reported no mx, submission, submissions, http or https listener');

    const endpoints: Endpoints = {
      submission: { host: MAIL_IP, port: submission.port },
      mx: { host: MAIL_IP, port: mx.port },
      inbox: { url: page.url },
      dns: { host: dns.host, port: dns.port },
      user: { username: user.username, password: user.password, address: user.address },
      submissions: { host: MAIL_IP, port: submissions.port },
      mtaSts: { host: MAIL_IP, port: https.port },
    };
    return {
      folder,
      endpoints,
      caFile: relayTls.certFile,
      publish: () => writeEndpoints(folder, endpoints),
      ports: { health: http.port, inboxSmtp: mta.port },
      relayDied,
      killRelay: () => relay.kill(),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
