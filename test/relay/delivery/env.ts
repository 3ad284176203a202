/**
 * A whole delivery world on loopback: a DNS server (dns2) with the records of our domain
 * (example.test: SPF, DKIM, DMARC, MX on 127.0.0.3) and of a recipient domain (elsewhere.test: MX on
 * 127.0.0.2), a receiving MTA on each, and the relay (in-process) pointed at both.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dkimValue } from '../../../infra/builders/records';
import type { RelayConfigInput } from '../../../relay/src/config/schema';
import type { RelayOptions } from '../../../relay/src/relay';
import { startDnsServer, type TestDnsServer } from '../../helpers/dns-server';
import { startReceiver, type Receiver, type ReceiverOptions } from '../../helpers/receiver';
import { HOSTNAME, startTestRelay, type TestRelay } from '../../helpers/relay';
import { relayTransport } from '../../helpers/submit';

export interface DeliveryEvent {
  name: string;
  payload: Record<string, unknown>;
}

export interface DeliveryEnv {
  relay: TestRelay;
  dns: TestDnsServer;
  /** The recipient domain's MTA (elsewhere.test, 127.0.0.2). */
  remote: Receiver;
  /** Our own domain's mailbox host (example.test, 127.0.0.3): where DSNs to our users arrive. */
  home: Receiver;
  dkimPublicKey: string;
  dkimPrivateKey: string;
  events: DeliveryEvent[];
  waitForEvent(name: string, predicate?: (payload: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  submit(raw: string, envelope: { from: string; to: string[] }): Promise<string>;
  stop(): Promise<void>;
}

export interface EnvOptions {
  remote?: ReceiverOptions;
  /** Our own domain's mailbox host (where DSNs to our users arrive). */
  home?: ReceiverOptions;
  configure?: (config: RelayConfigInput, dir: string) => void;
  relayOptions?: Omit<RelayOptions, 'authFailureDelayMs'>;
}

const EVENTS = ['delivered', 'deferred', 'bounced', 'dsn', 'dsn-suppressed', 'failed', 'finished', 'rescheduled', 'cool-off'];

export async function startDeliveryEnv(options: EnvOptions = {}): Promise<DeliveryEnv> {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  // Whatever started is stopped again if a later part fails to start (a port taken, a bad config).
  const started: Array<() => Promise<void>> = [];
  const stopStarted = () => Promise.all(started.map((stop) => stop().catch(() => undefined)));
  let remote: Receiver;
  let home: Receiver;
  let dns: TestDnsServer;
  let relay: TestRelay;
  try {
    remote = await startReceiver({ host: '127.0.0.2', hostname: 'mx.elsewhere.test', ...options.remote });
    started.push(() => remote.close());
    home = await startReceiver({ host: '127.0.0.3', port: remote.port, hostname: 'mx.example.test', ...options.home });
    started.push(() => home.close());
    dns = await startDnsServer({
      'example.test': { MX: [{ exchange: 'mx.example.test', priority: 10 }], TXT: ['v=spf1 ip4:127.0.0.0/8 -all'] },
      'mx.example.test': { A: ['127.0.0.3'] },
      'mx1._domainkey.example.test': { TXT: [dkimValue(keys.publicKey)] },
      '_dmarc.example.test': { TXT: ['v=DMARC1; p=reject'] },
      'elsewhere.test': { MX: [{ exchange: 'mx.elsewhere.test', priority: 10 }] },
      'mx.elsewhere.test': { A: ['127.0.0.2'] },
      [HOSTNAME]: { A: ['127.0.0.1'] },
    });
    started.push(() => dns.close());
    const dnsAddress = dns.address;
    relay = await startTestRelay(
      (config, dir) => {
        writeFileSync(join(dir, 'dkim.key'), keys.privateKey, { mode: 0o600 });
        config.dkim = [{ domain: 'example.test', selector: 'mx1', keyFile: join(dir, 'dkim.key') }];
        // "The internet" here is loopback: an opt-in, never a production setting.
        config.delivery = { dnsServers: [dnsAddress], port: remote.port, retrySchedule: ['100ms'], maxQueueTime: '1h', allowPrivateAddresses: true };
        options.configure?.(config, dir);
      },
      { authFailureDelayMs: 50, ...options.relayOptions },
    );
  } catch (error) {
    await stopStarted();
    throw error;
  }
  const events: DeliveryEvent[] = [];
  const waiters: Array<{ name: string; predicate: (payload: Record<string, unknown>) => boolean; resolve: (payload: Record<string, unknown>) => void }> = [];
  for (const name of EVENTS) {
    relay.relay.delivery.events.on(name, (payload: Record<string, unknown>) => {
      events.push({ name, payload });
      for (const waiter of [...waiters]) {
        if (waiter.name === name && waiter.predicate(payload)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(payload);
        }
      }
    });
  }
  const transport = relayTransport(relay);
  return {
    relay,
    dns,
    remote,
    home,
    dkimPublicKey: keys.publicKey,
    dkimPrivateKey: keys.privateKey,
    events,
    waitForEvent: (name, predicate = () => true) =>
      new Promise((resolve) => {
        const seen = events.find((event) => event.name === name && predicate(event.payload));
        if (seen) return resolve(seen.payload);
        waiters.push({ name, predicate, resolve });
      }),
    submit: async (raw, envelope) => {
      const info = await transport.sendMail({ envelope, raw });
      const id = /queued as ([0-9A-Z]+)/.exec(info.response)?.[1];
      if (!id) throw new Error(`no queue id in ${info.response}`);
      return id;
    },
    stop: async () => {
      transport.close();
      await relay.stop();
      await Promise.all([remote.close(), home.close(), dns.close()]);
    },
  };
}

export function message(subject: string, from = 'app@example.test', to = 'someone@elsewhere.test'): string {
  return [`From: App <${from}>`, `To: <${to}>`, `Subject: ${subject}`, `Date: ${new Date().toUTCString()}`, `Message-ID: <${Math.random().toString(36).slice(2)}@example.test>`, '', `Body of ${subject}.`, ''].join('\r\n');
}
