/**
 * Never an open relay, no backscatter (docs/contracts.md "Relay behaviour"): SRS addresses cannot
 * be guessed or used by anyone but a bounce (null sender), RCPT guessing is cut off, and mail
 * received on mx is never bounced to its (forgeable) envelope sender.
 */
import { dsnRecipient, planRecipients } from '../../../relay/src/delivery/forwarding';
import { HASH_LENGTH, Srs } from '../../../relay/src/delivery/srs';
import { originOfListener, type SpoolEnvelope } from '../../../relay/src/spool/envelope';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { startDeliveryEnv, type DeliveryEnv } from './env';

const DAY_MS = 86_400_000;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function envelope(mailFrom: string, rcptTo: string[], listener = 'mx'): SpoolEnvelope {
  return { id: 'TEST', receivedAt: new Date().toISOString(), mailFrom, rcptTo, origin: originOfListener(listener), listener, clientAddress: '192.0.2.1', smtpUtf8: false, bodyType: '7bit' };
}

/** `text` with the character at `index` replaced by another base32 character. */
function changeAt(text: string, index: number): string {
  const other = BASE32[(BASE32.indexOf(text[index].toLowerCase()) + 1) % 32];
  return text.slice(0, index) + other + text.slice(index + 1);
}

describe('SRS addresses (pure)', () => {
  const srs = new Srs(Buffer.from('a test secret of thirty-two bytes'));
  const now = Date.UTC(2025, 0, 15, 12);

  it('carry a long lower-case base32 HMAC that survives case folding either way', () => {
    const address = srs.forward('Alice@sender.test', 'example.test', now);
    // At least 40 bits of HMAC: guessing one takes 2^40 tries at RCPT, which the cut-off stops.
    expect(address).toMatch(/^SRS0=[a-z2-7]{8,}=[a-z2-7]{2}=sender\.test=Alice@example\.test$/);
    expect(srs.reverse(address, now)).toBe('Alice@sender.test');
    expect(srs.reverse(address.toLowerCase(), now)).toBe('alice@sender.test');
    expect(srs.reverse(address.toUpperCase(), now)?.toLowerCase()).toBe('alice@sender.test');
    expect(srs.reverse(address.replace(/^SRS0=/, 'srs0+'), now)).toBe('Alice@sender.test');
  });

  it('refuses every one-character change of the hash or the timestamp, and any change of the address', () => {
    const address = srs.forward('alice@sender.test', 'example.test', now);
    for (let index = 5; index < 5 + HASH_LENGTH + 3; index++) {
      if (address[index] === '=') continue;
      expect(srs.reverse(changeAt(address, index), now)).toBeUndefined();
    }
    expect(srs.reverse(address.replace('=alice@', '=alicf@'), now)).toBeUndefined();
    expect(srs.reverse(address.replace('=sender.test=', '=sender.tesu='), now)).toBeUndefined();
    // Bound to the domain of ours it was made for.
    expect(srs.reverse(address.replace('@example.test', '@example2.test'), now)).toBeUndefined();
  });

  it('refuses SRS0 addresses older than 21 days or from the future', () => {
    const address = srs.forward('alice@sender.test', 'example.test', now);
    expect(srs.reverse(address, now + 21 * DAY_MS)).toBe('alice@sender.test');
    expect(srs.reverse(address, now + 22 * DAY_MS)).toBeUndefined();
    expect(srs.reverse(address, now - DAY_MS)).toBeUndefined();
  });

  it('with a shared key, still reverses what the earlier own key made, but makes new addresses with the shared one only', () => {
    const shared = new Srs(Buffer.from('the deployment-wide shared key!!'), [Buffer.from('a test secret of thirty-two bytes')]);
    const before = srs.forward('alice@sender.test', 'example.test', now);
    expect(shared.reverse(before, now)).toBe('alice@sender.test');
    const after = shared.forward('alice@sender.test', 'example.test', now);
    expect(after).not.toBe(before);
    expect(new Srs(Buffer.from('the deployment-wide shared key!!')).reverse(after, now)).toBe('alice@sender.test');
    expect(srs.reverse(after, now)).toBeUndefined();
    expect(new Srs(Buffer.from('some other host of another stack')).reverse(before, now)).toBeUndefined();
  });

  it('SRS1: round trip, case folding, age checked, separators hashed unambiguously', () => {
    const theirs = srs.forward('bob@orig.test', 'fwd.test', now); // stands for another forwarder's SRS0
    const ours = srs.forward(theirs, 'example.test', now);
    const opaque = theirs.slice('SRS0='.length, theirs.lastIndexOf('@'));
    expect(ours).toBe(`SRS1=${ours.slice(5, 5 + HASH_LENGTH)}=fwd.test==${opaque}@example.test`);
    expect(srs.reverse(ours, now)).toBe(theirs);
    expect(srs.reverse(ours.toUpperCase(), now)?.toLowerCase()).toBe(theirs.toLowerCase());
    expect(srs.reverse(ours, now + 22 * DAY_MS)).toBeUndefined();
    expect(srs.reverse(changeAt(ours, 5), now)).toBeUndefined();
    // Moving a character across the "==" boundary must not keep the hash valid.
    const shifted = ours.replace('=fwd.test==', '=fwd.tes==t');
    expect(srs.reverse(shifted, now)).toBeUndefined();
    // An SRS0 hash is no SRS1 hash.
    expect(srs.reverse(ours.replace(/^SRS1=/, 'SRS0='), now)).toBeUndefined();
  });

  it('a valid SRS address is un-rewritten only for the null sender, even with a catch-all route', () => {
    const address = srs.forward('victim@sender.test', 'example.test');
    const config = { domains: ['example.test'], routes: [{ match: '*@example.test', forward: ['catchall@elsewhere.test'] }] };
    expect(planRecipients(envelope('', [address]), config, srs).map((r) => r.to)).toEqual(['victim@sender.test']);
    expect(planRecipients(envelope('mallory@evil.test', [address]), config, srs).map((r) => r.to)).toEqual(['catchall@elsewhere.test']);
  });

  it('names no DSN recipient for mail received on mx or from the null sender', () => {
    expect(dsnRecipient(envelope('forged@sender.test', ['info@example.test']), srs)).toBeUndefined();
    expect(dsnRecipient(envelope('', ['info@example.test']), srs)).toBeUndefined();
    expect(dsnRecipient(envelope('app@example.test', ['someone@elsewhere.test'], 'submissions'), srs)).toBe('app@example.test');
  });
});

async function openMx(env: DeliveryEnv, from: string): Promise<SmtpDialog> {
  const client = await SmtpDialog.open(env.relay.port('mx'));
  await client.read();
  await client.command('EHLO mta.sender.test');
  expect((await client.command(`MAIL FROM:<${from}>`)).code).toBe(250);
  return client;
}

describe('SRS abuse on the mx listener (with a catch-all route)', () => {
  let env: DeliveryEnv;
  let valid = '';

  beforeAll(async () => {
    env = await startDeliveryEnv({
      // The forward target of info@example.test refuses the message: the failure must not go back.
      remote: { rcptReply: (address) => (address === 'inbox@elsewhere.test' ? 550 : undefined) },
      configure: (config) => {
        config.routes = [...(config.routes ?? []), { match: '*@example.test', forward: ['catchall@elsewhere.test'] }];
      },
    });
    // A DSN to the (forged) sender.test sender would land on the home receiver.
    env.dns.set('sender.test', { MX: [{ exchange: 'mx.sender.test', priority: 10 }] });
    env.dns.set('mx.sender.test', { A: ['127.0.0.3'] });
    valid = env.relay.relay.delivery.srs.forward('victim@sender.test', 'example.test');
  });
  afterAll(() => env.stop());

  it('refuses a valid SRS address from a non-null sender with 550 5.1.1 and queues nothing', async () => {
    const before = await env.relay.relay.spool.count();
    const client = await openMx(env, 'mallory@evil.test');
    try {
      for (const to of [valid, valid.toLowerCase(), valid.toUpperCase()]) {
        const reply = await client.command(`RCPT TO:<${to}>`);
        expect(reply.code).toBe(550);
        expect(reply.text).toMatch(/^5\.1\.1 /);
      }
      expect((await client.command('DATA')).code).toBe(503);
    } finally {
      client.close();
    }
    expect(await env.relay.relay.spool.count()).toBe(before);
    expect(env.home.messages).toHaveLength(0);
  });

  it('returns a bounce from <> to a case-changed valid SRS address, but refuses a one-character change', async () => {
    const client = await openMx(env, '');
    let id: string | undefined;
    try {
      expect((await client.command(`RCPT TO:<${changeAt(valid, 5)}>`)).code).toBe(550);
      expect((await client.command(`RCPT TO:<${valid.toUpperCase()}>`)).code).toBe(250);
      const accepted = await client.data(['From: MAILER-DAEMON@mx.elsewhere.test', 'To: <postmaster@example.test>', 'Subject: Undelivered', '', 'gone', ''].join('\r\n'));
      expect(accepted.code).toBe(250);
      id = /queued as ([0-9A-Z]+)/.exec(accepted.text)?.[1];
    } finally {
      client.close();
    }
    await env.waitForEvent('finished', (event) => event.id === id);
    const [bounce] = await env.home.waitForMessages(1);
    expect(bounce.rcptTo.map((to) => to.toLowerCase())).toEqual(['victim@sender.test']);
    expect(bounce.mailFrom).toBe('');
  });

  it('answers 421 4.7.0 and closes the connection after 10 refused recipients, RSET or not', async () => {
    const client = await openMx(env, '');
    try {
      for (let i = 0; i < 10; i++) {
        if (i === 5) {
          expect((await client.command('RSET')).code).toBe(250);
          expect((await client.command('MAIL FROM:<>')).code).toBe(250);
        }
        const guess = `SRS0=${'a'.repeat(7)}${BASE32[i]}=aa=sender.test=victim@example.test`;
        const reply = await client.command(`RCPT TO:<${guess}>`);
        expect(reply.code).toBe(550);
        expect(reply.text).toMatch(/^5\.1\.1 /);
      }
      // The next RCPT is cut off whatever it names, even the valid address: no more answers.
      const cut = await client.command(`RCPT TO:<${valid}>`);
      expect(cut.code).toBe(421);
      expect(cut.text).toMatch(/^4\.7\.0 /);
      await client.whenClosed();
    } finally {
      client.close();
    }
    // The limit is per session: a new connection is answered normally.
    const fresh = await openMx(env, '');
    try {
      expect((await fresh.command('RCPT TO:<SRS0=aaaaaaaa=aa=sender.test=victim@example.test>')).code).toBe(550);
      expect((await fresh.command('RCPT TO:<info@example.test>')).code).toBe(250);
    } finally {
      fresh.close();
    }
  });

  it('sends no DSN to the forged sender when the forward target refuses a message received on mx, and keeps it in the failed list', async () => {
    const homeBefore = env.home.messages.length;
    const client = await openMx(env, 'forged@sender.test');
    let id: string | undefined;
    try {
      expect((await client.command('RCPT TO:<info@example.test>')).code).toBe(250);
      const accepted = await client.data(['From: <spammer@sender.test>', 'To: <info@example.test>', 'Subject: spam', '', 'buy now', ''].join('\r\n'));
      expect(accepted.code).toBe(250);
      id = /queued as ([0-9A-Z]+)/.exec(accepted.text)?.[1];
    } finally {
      client.close();
    }
    const bounced = await env.waitForEvent('bounced', (event) => event.id === id);
    expect(bounced.to).toBe('inbox@elsewhere.test');
    const suppressed = await env.waitForEvent('dsn-suppressed', (event) => event.id === id);
    expect(suppressed).toMatchObject({ action: 'failed', reason: 'unauthenticated_sender' });
    await env.waitForEvent('finished', (event) => event.id === id);
    expect(env.events.filter((event) => event.name === 'dsn' && event.payload.id === id)).toHaveLength(0);
    expect(env.home.messages).toHaveLength(homeBefore);
    const metrics = await env.relay.relay.metrics.registry.getSingleMetricAsString('mxkit_delivery_dsn_suppressed_total');
    expect(metrics).toMatch(/mxkit_delivery_dsn_suppressed_total\{action="failed",reason="unauthenticated_sender"\} 1/);
    const failed = (await env.relay.relay.spool.failed.list()).find((record) => record.id === id);
    expect(failed?.recipients).toEqual([expect.objectContaining({ to: 'inbox@elsewhere.test', original: 'info@example.test', reason: 'remote_5xx', noDsn: 'unauthenticated_sender' })]);
  });
});

describe('backscatter on expiry', () => {
  let env: DeliveryEnv;
  afterAll(() => env.stop());

  it('sends no DSN when a message received on mx from an unauthenticated sender expires in the queue, and keeps it as failed', async () => {
    env = await startDeliveryEnv({
      remote: { dataReplies: Array.from({ length: 100 }, () => 451) },
      configure: (config) => {
        config.delivery = { ...config.delivery, retrySchedule: ['1s'], maxQueueTime: '3s' };
      },
    });
    env.dns.set('sender.test', { MX: [{ exchange: 'mx.sender.test', priority: 10 }] });
    env.dns.set('mx.sender.test', { A: ['127.0.0.3'] });
    const client = await openMx(env, 'forged@sender.test');
    let id: string | undefined;
    try {
      expect((await client.command('RCPT TO:<info@example.test>')).code).toBe(250);
      const accepted = await client.data(['From: <spammer@sender.test>', 'To: <info@example.test>', 'Subject: spam', '', 'x', ''].join('\r\n'));
      expect(accepted.code).toBe(250);
      id = /queued as ([0-9A-Z]+)/.exec(accepted.text)?.[1];
    } finally {
      client.close();
    }
    const bounced = await env.waitForEvent('bounced', (event) => event.id === id);
    expect(bounced.reason).toBe('expired');
    expect(await env.waitForEvent('dsn-suppressed', (event) => event.id === id)).toMatchObject({ action: 'failed', reason: 'unauthenticated_sender' });
    await env.waitForEvent('finished', (event) => event.id === id);
    expect(env.events.filter((event) => event.name === 'dsn')).toHaveLength(0);
    expect(env.home.messages).toHaveLength(0);
    expect((await env.relay.relay.spool.failed.list()).map((record) => [record.id, record.recipients.map((r) => r.reason)])).toEqual([[id, ['expired']]]);
  }, 20_000);
});
