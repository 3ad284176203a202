/**
 * Whether a failed forward may be reported to its sender is decided from what intake found when
 * the message arrived, recorded in the spool envelope: it holds across a restart, when the SPF
 * record could have changed or the failure comes days later.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { loadRelay } from '../../../relay/src/load-relay';
import { startRelay, type RunningRelay } from '../../../relay/src/relay';
import type { SpoolEnvelope } from '../../../relay/src/spool/envelope';
import { startDnsServer, type TestDnsServer } from '../../helpers/dns-server';
import { startReceiver, type Receiver } from '../../helpers/receiver';
import { writeRelayFiles } from '../../helpers/relay';
import { SmtpDialog } from '../../helpers/smtp-dialog';

let refuseWith = 451;
let dns: TestDnsServer;
let remote: Receiver;
let home: Receiver;
const running: RunningRelay[] = [];

beforeAll(async () => {
  remote = await startReceiver({ host: '127.0.0.2', rcptReply: () => refuseWith });
  home = await startReceiver({ host: '127.0.0.3', port: remote.port, hostname: 'mx.sender.test' });
  dns = await startDnsServer({
    'elsewhere.test': { MX: [{ exchange: 'mx.elsewhere.test', priority: 10 }] },
    'mx.elsewhere.test': { A: ['127.0.0.2'] },
    'sender.test': { MX: [{ exchange: 'mx.sender.test', priority: 10 }], TXT: ['v=spf1 ip4:127.0.0.0/8 -all'] },
    'mx.sender.test': { A: ['127.0.0.3'] },
  });
});
afterAll(async () => {
  for (const relay of running) await relay.shutdown();
  await Promise.all([remote.close(), home.close(), dns.close()]);
});

async function viaMx(relay: RunningRelay, from: string): Promise<string> {
  const client = await SmtpDialog.open(relay.addresses.mx?.port ?? 0);
  try {
    await client.read();
    await client.command('EHLO mta.sender.test');
    expect((await client.command(`MAIL FROM:<${from}>`)).code).toBe(250);
    expect((await client.command('RCPT TO:<info@example.test>')).code).toBe(250);
    const reply = await client.data(['From: <someone@sender.test>', 'To: <info@example.test>', 'Subject: later', '', 'x', ''].join('\r\n'));
    expect(reply.code).toBe(250);
    return /queued as ([0-9A-Z]+)/.exec(reply.text)?.[1] ?? '';
  } finally {
    client.close();
  }
}

const envelopeOf = (relay: RunningRelay, id: string) => JSON.parse(readFileSync(relay.spool.pathOf(id), 'utf8').split('\n')[0]) as SpoolEnvelope;

test('a forward deferred before a restart and refused after it: a DSN to the SPF-authenticated sender, the failed list for the other', async () => {
  const files = await writeRelayFiles((config) => {
    // "The internet" here is loopback: an opt-in, never a production setting.
    config.delivery = { dnsServers: [dns.address], port: remote.port, retrySchedule: ['200ms'], allowPrivateAddresses: true };
  });
  const logger = pino({ level: 'silent' });
  const first = await startRelay(await loadRelay(files.configPath), logger);
  running.push(first);
  const authenticated = await viaMx(first, 'alice@sender.test');
  const forged = await viaMx(first, 'forged@nospf.test');
  expect(envelopeOf(first, authenticated).inbound).toMatchObject({ spf: 'pass', senderAuthenticated: true, authResults: expect.stringMatching(/^mail\.example\.test;/) });
  expect(envelopeOf(first, forged).inbound).toMatchObject({ spf: 'none', senderAuthenticated: false });
  // Both are deferred (451) at least once, then the relay stops with them queued.
  const deferred = new Set<string>();
  while (deferred.size < 2) {
    const [event] = (await once(first.delivery.events, 'deferred')) as [{ id: string }];
    deferred.add(event.id);
  }
  await first.shutdown();
  running.splice(running.indexOf(first), 1);

  // The sender's SPF record is gone by now, and the target refuses for good.
  dns.set('sender.test', { MX: [{ exchange: 'mx.sender.test', priority: 10 }], TXT: ['v=spf1 -all'] });
  refuseWith = 550;
  const second = await startRelay(await loadRelay(files.configPath), logger);
  running.push(second);
  const outcomes = new Map<string, string>();
  second.delivery.events.on('dsn', (event: { id: string; to: string }) => outcomes.set(event.id, `dsn to ${event.to}`));
  second.delivery.events.on('failed', (event: { id: string }) => outcomes.set(event.id, 'failed list'));
  while (!outcomes.has(authenticated) || !outcomes.has(forged)) await once(second.delivery.events, 'finished');
  expect(outcomes.get(authenticated)).toBe('dsn to alice@sender.test');
  expect(outcomes.get(forged)).toBe('failed list');
  expect((await second.spool.failed.list()).map((record) => record.id)).toEqual([forged]);
});
