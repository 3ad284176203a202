import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { recoverQueue } from '../../../relay/src/delivery/recovery';
import { RelayMetrics } from '../../../relay/src/ops/metrics';
import type { SpoolEnvelope } from '../../../relay/src/spool/envelope';
import { newQueueId, queueIdTime } from '../../../relay/src/spool/queue-id';
import { Spool } from '../../../relay/src/spool/spool';
import type { DeliveryState } from '../../../relay/src/spool/state';
import { tempDir } from '../../helpers/relay';
import { message, startDeliveryEnv, type DeliveryEnv } from './env';

/** Writes a queued message (and, with `nextAttemptAt`, its delivery state) as the spool keeps them. */
function queueMessage(spoolDir: string, id: string, raw: string, nextAttemptAt?: Date): void {
  mkdirSync(join(spoolDir, 'queue'), { recursive: true });
  mkdirSync(join(spoolDir, 'state'), { recursive: true });
  const to = 'someone@elsewhere.test';
  const envelope: SpoolEnvelope = { id, receivedAt: new Date(queueIdTime(id)).toISOString(), mailFrom: 'app@example.test', rcptTo: [to], listener: 'submission', origin: 'submission', clientAddress: '127.0.0.1', authUser: 'app', smtpUtf8: false, bodyType: '7bit' };
  writeFileSync(join(spoolDir, 'queue', `${id}.msg`), `${JSON.stringify(envelope)}\n${raw}`);
  if (nextAttemptAt) {
    const state: DeliveryState = { id, attempts: 1, nextAttemptAt: nextAttemptAt.toISOString(), recipients: [{ to, original: to, mailFrom: 'app@example.test', status: 'pending', attempts: 1 }] };
    writeFileSync(join(spoolDir, 'state', `${id}.json`), JSON.stringify(state));
  }
}

const silent = pino({ level: 'silent' });

describe('a relay started on a spool that already holds messages', () => {
  let env: DeliveryEnv | undefined;
  afterEach(async () => env?.stop());

  it('delivers those never attempted, keeps the deferred ones for their next attempt, and drops state left without a message', async () => {
    const fresh = Array.from({ length: 30 }, (_, index) => newQueueId(Date.now() - 60_000 + index));
    const deferred = Array.from({ length: 5 }, (_, index) => newQueueId(Date.now() - 30_000 + index));
    const orphan = newQueueId(Date.now() - 90_000);
    let spoolDir = '';
    env = await startDeliveryEnv({
      configure: (config) => {
        spoolDir = config.spoolDir;
        fresh.forEach((id, index) => queueMessage(spoolDir, id, message(`waiting ${index}`)));
        deferred.forEach((id, index) => queueMessage(spoolDir, id, message(`deferred ${index}`), new Date(Date.now() + 3_600_000)));
        writeFileSync(join(spoolDir, 'state', `${orphan}.json`), '{}');
      },
    });
    const received = await env.remote.waitForMessages(30);
    expect(received.map((mail) => /^Subject: (.*)$/m.exec(mail.raw.toString('latin1'))?.[1]).sort()).toEqual(fresh.map((_, index) => `waiting ${index}`).sort());
    const metrics = env.relay.relay.metrics;
    while ((await metrics.spoolMessages.get()).values[0]?.value !== 5) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await metrics.spoolRecovering.get()).values[0]?.value).toBe(0);
    // The deferred five were scheduled for their recorded time, not attempted again at start.
    expect(env.events.filter((event) => deferred.includes(String(event.payload.id)))).toEqual([]);
    expect(existsSync(join(spoolDir, 'state', `${orphan}.json`))).toBe(false);
  });
});

describe('recovering the queue found at start', () => {
  it('schedules each message once, skips those this run already handles, and counts only what it scheduled', async () => {
    const dir = tempDir();
    const spool = new Spool(dir);
    await spool.open();
    const ids = Array.from({ length: 2500 }, (_, index) => newQueueId(Date.now() - 10_000 + index));
    const due = new Date(Date.now() + 60_000);
    ids.forEach((id, index) => queueMessage(dir, id, message(`m${index}`), index % 2 === 0 ? due : undefined));
    const metrics = new RelayMetrics();
    const scheduled = new Map<string, number>();
    // Spooled by this run while the recovery lists (intake's onSpooled got there first).
    const handledByThisRun = new Set(ids.slice(100, 110));
    const found: string[] = [];
    const count = await recoverQueue({
      spool,
      metrics,
      logger: silent,
      schedule: (id, at) => scheduled.set(id, at),
      known: (id) => handledByThisRun.has(id),
      found: (batch) => found.push(...batch.map((entry) => entry.id)),
      stopped: () => false,
    });
    expect(count).toBe(2490);
    expect(scheduled.size).toBe(2490);
    expect([...handledByThisRun].filter((id) => scheduled.has(id))).toEqual([]);
    expect(scheduled.get(ids[0])).toBe(due.getTime());
    expect(scheduled.get(ids[1])).toBeLessThanOrEqual(Date.now());
    expect(found).toHaveLength(2490);
    expect((await metrics.spoolMessages.get()).values[0]?.value).toBe(2490);
    expect((await metrics.spoolRecovering.get()).values[0]?.value).toBe(0);
  });

  it('stops early when the relay is stopping', async () => {
    const dir = tempDir();
    const spool = new Spool(dir);
    await spool.open();
    for (let index = 0; index < 3000; index++) queueMessage(dir, newQueueId(Date.now() - 10_000 + index), message(`m${index}`));
    let scheduled = 0;
    const count = await recoverQueue({ spool, metrics: new RelayMetrics(), logger: silent, schedule: () => scheduled++, known: () => false, stopped: () => scheduled >= 1000 });
    expect(count).toBe(1000);
  });
});
