/**
 * Nothing accepted ends silently: every way a message ends without delivery -- a permanent
 * refusal, expiry in the queue, a route that is gone -- on every listener it can arrive by, either
 * returns a DSN to its sender or lands in the failed list with its reason, and moves a metric an
 * alert can watch (mxkit_delivery_bounced_total always; then mxkit_delivery_dsn_total or
 * mxkit_delivery_failed_total).
 */
import type { RelayConfigInput } from '../../../relay/src/config/schema';
import type { SpoolEnvelope } from '../../../relay/src/spool/envelope';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { message, startDeliveryEnv, type DeliveryEnv } from './env';

let env: DeliveryEnv;

beforeAll(async () => {
  env = await startDeliveryEnv({
    // The recipient domain refuses refuse-*, and keeps answering 451 to slow-* until they expire.
    remote: { rcptReply: (address) => (address.startsWith('refuse') ? 550 : address.startsWith('slow') ? 451 : undefined) },
    // Our users' mailbox host refuses one address: a DSN to it fails in turn.
    home: { rcptReply: (address) => (address.startsWith('bounce-me') || address.startsWith('victim') ? 550 : undefined) },
    configure: (config: RelayConfigInput) => {
      config.delivery = { ...config.delivery, retrySchedule: ['250ms'], maxQueueTime: '3s' };
      config.routes = [
        { match: 'refuse@example.test', forward: ['refuse@elsewhere.test'] },
        { match: 'slow@example.test', forward: ['slow@elsewhere.test'] },
        { match: 'info@example.test', forward: ['inbox@elsewhere.test'] },
      ];
    },
  });
  // sender.test: SPF passes from loopback (an authenticated sender). nospf.test publishes nothing.
  env.dns.set('sender.test', { MX: [{ exchange: 'mx.sender.test', priority: 10 }], TXT: ['v=spf1 ip4:127.0.0.0/8 -all'] });
  env.dns.set('mx.sender.test', { A: ['127.0.0.3'] });
  env.dns.set('app.example.test', { MX: [{ exchange: 'mx.example.test', priority: 10 }] });
}, 30_000);
afterAll(() => env.stop());

async function viaMx(from: string, to: string): Promise<string> {
  const client = await SmtpDialog.open(env.relay.port('mx'));
  try {
    await client.read();
    await client.command('EHLO mta.sender.test');
    expect((await client.command(`MAIL FROM:<${from}>`)).code).toBe(250);
    expect((await client.command(`RCPT TO:<${to}>`)).code).toBe(250);
    const reply = await client.data(['From: <someone@sender.test>', `To: <${to}>`, 'Subject: ending', '', 'x', ''].join('\r\n'));
    expect(reply.code).toBe(250);
    return /queued as ([0-9A-Z]+)/.exec(reply.text)?.[1] ?? '';
  } finally {
    client.close();
  }
}

/** A message spooled for a route that is gone by the time it is delivered (config changed, relay restarted). */
async function spooledForGoneRoute(senderAuthenticated: boolean): Promise<string> {
  const envelope: Omit<SpoolEnvelope, 'id' | 'receivedAt'> = {
    mailFrom: 'alice@sender.test',
    rcptTo: ['gone@example.test'],
    origin: 'inbound',
    listener: 'mx',
    clientAddress: '127.0.0.9',
    smtpUtf8: false,
    bodyType: '7bit',
    inbound: { spf: senderAuthenticated ? 'pass' : 'none', senderAuthenticated, arc: 'none', authResults: 'mail.example.test; spf=none' },
  };
  const spooled = await env.relay.relay.spool.enqueue(envelope, Buffer.from(message('for a gone route', 'alice@sender.test', 'gone@example.test')));
  env.relay.relay.delivery.onSpooled(spooled);
  return spooled.id;
}

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const metric = env.relay.relay.metrics.registry.getSingleMetric(name);
  const values = metric ? (await metric.get()).values : [];
  return values.find((entry) => Object.entries(labels).every(([key, value]) => entry.labels[key] === value))?.value ?? 0;
}

type Ending = { dsnTo: string } | { failed: { listener: string; noDsn: 'unauthenticated_sender' | 'null_sender' } };

interface Case {
  name: string;
  reason: string;
  /** Sends the message; returns the id whose ending is observed. */
  send(): Promise<string>;
  ending: Ending;
  /** Recipients bounced on the way (default 1; 2 when the ending is a DSN's own bounce). */
  bounces?: number;
}

const cases: Case[] = [
  { name: 'submission: a permanent refusal', reason: 'remote_5xx', send: () => env.submit(message('refused', 'app@example.test', 'refuse@elsewhere.test'), { from: 'app@example.test', to: ['refuse@elsewhere.test'] }), ending: { dsnTo: 'app@example.test' } },
  { name: 'submission: expired in the queue', reason: 'expired', send: () => env.submit(message('slow', 'app@example.test', 'slow@elsewhere.test'), { from: 'app@example.test', to: ['slow@elsewhere.test'] }), ending: { dsnTo: 'app@example.test' } },
  { name: 'mx, SPF-authenticated sender: a permanent refusal of the forward', reason: 'remote_5xx', send: () => viaMx('alice@sender.test', 'refuse@example.test'), ending: { dsnTo: 'alice@sender.test' } },
  { name: 'mx, SPF-authenticated sender: the forward expired', reason: 'expired', send: () => viaMx('alice@sender.test', 'slow@example.test'), ending: { dsnTo: 'alice@sender.test' } },
  { name: 'mx, SPF-authenticated sender: the route is gone', reason: 'no_route', send: () => spooledForGoneRoute(true), ending: { dsnTo: 'alice@sender.test' } },
  { name: 'mx, unauthenticated sender: a permanent refusal of the forward', reason: 'remote_5xx', send: () => viaMx('forged@nospf.test', 'refuse@example.test'), ending: { failed: { listener: 'mx', noDsn: 'unauthenticated_sender' } } },
  { name: 'mx, unauthenticated sender: the forward expired', reason: 'expired', send: () => viaMx('forged@nospf.test', 'slow@example.test'), ending: { failed: { listener: 'mx', noDsn: 'unauthenticated_sender' } } },
  { name: 'mx, unauthenticated sender: the route is gone', reason: 'no_route', send: () => spooledForGoneRoute(false), ending: { failed: { listener: 'mx', noDsn: 'unauthenticated_sender' } } },
  {
    name: 'mx, null sender: a bounce returned through SRS is refused by the original sender',
    reason: 'remote_5xx',
    send: () => viaMx('', env.relay.relay.delivery.srs.forward('victim@sender.test', 'example.test')),
    ending: { failed: { listener: 'mx', noDsn: 'null_sender' } },
  },
  {
    name: 'dsn: our own DSN is refused by the user it reports to',
    reason: 'remote_5xx',
    send: async () => {
      // A recipient not refused before: the earlier hard bounce suppressed refuse@ (docs/deliverability.md).
      const id = await env.submit(message('refused, DSN refused', 'bounce-me@app.example.test', 'refuse-again@elsewhere.test'), { from: 'bounce-me@app.example.test', to: ['refuse-again@elsewhere.test'] });
      return String((await env.waitForEvent('dsn', (event) => event.id === id)).dsnId);
    },
    ending: { failed: { listener: 'dsn', noDsn: 'null_sender' } },
    bounces: 2,
  },
];

describe('every ending without delivery is a DSN or a failed-list entry, and is counted', () => {
  test.each(cases)('$name', async ({ reason, send, ending, bounces = 1 }) => {
    const bouncedBefore = await counter('mxkit_delivery_bounced_total', { reason });
    const dsnsBefore = await counter('mxkit_delivery_dsn_total', { action: 'failed' });
    const failedBefore = 'failed' in ending ? await counter('mxkit_delivery_failed_total', { listener: ending.failed.listener, reason }) : 0;

    const id = await send();
    await env.waitForEvent('finished', (event) => event.id === id);

    expect(await counter('mxkit_delivery_bounced_total', { reason })).toBe(bouncedBefore + bounces);
    const failedList = await env.relay.relay.spool.failed.list();
    if ('dsnTo' in ending) {
      expect(await env.waitForEvent('dsn', (event) => event.id === id)).toMatchObject({ to: ending.dsnTo, action: 'failed' });
      expect(await counter('mxkit_delivery_dsn_total', { action: 'failed' })).toBe(dsnsBefore + 1);
      expect(failedList.map((record) => record.id)).not.toContain(id);
    } else {
      expect(env.events.filter((event) => event.name === 'dsn' && event.payload.id === id)).toEqual([]);
      const record = failedList.find((candidate) => candidate.id === id);
      expect(record).toMatchObject({ listener: ending.failed.listener, recipients: [expect.objectContaining({ reason, noDsn: ending.failed.noDsn })] });
      expect(record?.recipients[0].detail).not.toBe('');
      expect(await counter('mxkit_delivery_failed_total', { listener: ending.failed.listener, reason })).toBe(failedBefore + 1);
      expect(await env.relay.relay.spool.has(id)).toBe(false);
    }
  });

  test('the failed list is bounded by delivery.failedRetention: entries past it are deleted, and the gauge follows', async () => {
    const before = await env.relay.relay.spool.failed.count();
    expect(before).toBeGreaterThan(0);
    expect(await env.relay.relay.delivery.pruneFailed(new Date(Date.now() + 6 * 86_400_000))).toBe(0);
    expect(await env.relay.relay.delivery.pruneFailed(new Date(Date.now() + 7 * 86_400_000 + 60_000))).toBe(before);
    expect(await env.relay.relay.spool.failed.list()).toEqual([]);
    expect(await env.relay.relay.metrics.registry.getSingleMetricAsString('mxkit_failed_messages')).toMatch(/^mxkit_failed_messages 0$/m);
  });
});
