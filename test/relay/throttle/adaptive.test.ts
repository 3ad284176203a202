import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { loadRelay } from '../../../relay/src/load-relay';
import { startRelay } from '../../../relay/src/relay';
import { message, startDeliveryEnv, type DeliveryEnv } from '../delivery/env';

/** The throttle's "minute" in these tests: time is compressed 60 times. */
const MINUTE_MS = 1000;
/** The receiver takes at most this many messages per (compressed) minute, like a provider's rate limit. */
const LIMIT = 8;
const TSS04 = '4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred due to unexpected volume or user complaints';

interface Transaction {
  at: number;
  accepted: boolean;
}

/** A receiving MTA that answers 421 [TSS04] to every message above LIMIT in any sliding minute. */
function rateLimitedReceiver(transactions: Transaction[]) {
  return () => {
    const now = Date.now();
    const recent = transactions.filter((t) => t.accepted && t.at > now - MINUTE_MS).length;
    const accepted = recent < LIMIT;
    transactions.push({ at: now, accepted });
    return accepted ? undefined : { code: 421, text: TSS04 };
  };
}

describe('adaptive per-provider throttling', () => {
  let env: DeliveryEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('settles under a receiver that answers 421 [TSS04] above N messages a minute and delivers everything, without hammering it', async () => {
    const transactions: Transaction[] = [];
    env = await startDeliveryEnv({
      remote: { judge: rateLimitedReceiver(transactions) },
      configure: (config) => {
        config.delivery = {
          ...config.delivery,
          throttle: { providers: [{ name: 'loopback', mxSuffixes: ['elsewhere.test'], concurrency: 2, messagesPerMinute: 0 }], rules: [{ match: '[TSS04]', coolOff: '1s', maxCoolOff: '4s' }], rampAfter: 4, maxWait: '200ms' },
        };
      },
      relayOptions: { delivery: { throttleMinuteMs: MINUTE_MS } },
    });
    const total = 48;
    const ids: string[] = [];
    // Ten sessions at a time (the relay allows limits.maxConnectionsPerIp per client).
    for (let batch = 0; batch < total; batch += 10) {
      const count = Math.min(10, total - batch);
      ids.push(...(await Promise.all(Array.from({ length: count }, (_, index) => env!.submit(message(`burst ${batch + index}`), { from: 'app@example.test', to: ['someone@elsewhere.test'] })))));
    }
    await Promise.all(ids.map((id) => env!.waitForEvent('finished', (event) => event.id === id)));

    // Everything arrived, once.
    expect(env.remote.messages).toHaveLength(total);
    const subjects = new Set(env.remote.messages.map((mail) => /^Subject: (.*)$/m.exec(mail.raw.toString('latin1'))?.[1]));
    expect(subjects.size).toBe(total);

    // It pushed into the limit at first, then backed off: few refusals in all...
    const refused = transactions.filter((t) => !t.accepted);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeLessThanOrEqual(total / 4);
    // ...and after the first refusal it never offered much more than the limit in any minute.
    const firstRefusal = refused[0].at;
    const later = transactions.filter((t) => t.at > firstRefusal + MINUTE_MS);
    const busiest = Math.max(...later.map((t) => later.filter((u) => u.at > t.at - MINUTE_MS && u.at <= t.at).length));
    expect(busiest).toBeLessThanOrEqual(LIMIT + 2);

    const metrics = env.relay.relay.metrics.registry;
    expect(await metrics.getSingleMetricAsString('mxkit_throttle_cooloffs_total')).toMatch(/mxkit_throttle_cooloffs_total\{group="loopback",rule="\[TSS04\]"\} [1-9]/);
    expect(await metrics.getSingleMetricAsString('mxkit_throttle_deferrals_total')).toMatch(/\{group="loopback",cause="remote"\} [1-9]/);
    expect(await metrics.getSingleMetricAsString('mxkit_throttle_transactions_total')).toMatch(new RegExp(`\\{group="loopback"\\} ${transactions.length}\\b`));
    // Held-back messages were rescheduled for their turn, not counted as attempts.
    const held = env.events.filter((event) => event.name === 'deferred' && event.payload.reason === 'throttled');
    expect(held.length).toBeGreaterThan(0);
    expect(held.every((event) => typeof event.payload.retryAt === 'string')).toBe(true);
  }, 60_000);

  it('keeps a cool-off across a restart: a message queued after the restart waits for the pause to end', async () => {
    let refuse = true;
    env = await startDeliveryEnv({
      remote: { judge: () => (refuse ? { code: 421, text: TSS04 } : undefined) },
      configure: (config) => {
        config.delivery = { ...config.delivery, throttle: { providers: [{ name: 'loopback', mxSuffixes: ['elsewhere.test'], concurrency: 1, messagesPerMinute: 0 }], rules: [{ match: '[TSS04]', coolOff: '3s' }], maxWait: '100ms' } };
      },
    });
    const first = await env.submit(message('refused'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    const coolOff = await env.waitForEvent('cool-off');
    expect(coolOff).toMatchObject({ group: 'loopback', rule: '[TSS04]', event: 'cool-off' });
    const until = Date.parse(coolOff.until as string);
    await env.relay.relay.shutdown();
    const saved = JSON.parse(readFileSync(join(env.relay.dir, 'spool', 'throttle.json'), 'utf8')) as { groups: Record<string, { coolOffUntil: number }> };
    expect(saved.groups.loopback.coolOffUntil).toBe(until);

    refuse = false;
    const restarted = await startRelay(await loadRelay(env.relay.configPath), pino({ level: 'silent' }));
    try {
      const delivered = new Promise<number>((resolve) => restarted.delivery.events.on('delivered', () => resolve(Date.now())));
      const held = new Promise<Record<string, unknown>>((resolve) => restarted.delivery.events.on('deferred', (event: Record<string, unknown>) => resolve(event)));
      restarted.delivery.retryNow(first);
      expect(await held).toMatchObject({ id: first, reason: 'throttled' });
      expect(await delivered).toBeGreaterThanOrEqual(until);
      expect(env.remote.messages).toHaveLength(1);
    } finally {
      await restarted.shutdown();
    }
  }, 30_000);
});
