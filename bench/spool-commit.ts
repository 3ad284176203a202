/**
 * Measures the spool's commit path alone: N messages written by C concurrent writers, each made
 * durable (file fsync, rename, directory fsync) before it counts, once with group-committed
 * directory fsyncs (what the relay does) and once with one directory fsync per message.
 * `node scripts/run-ts.mjs bench/spool-commit.ts [--messages N] [--concurrency C]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsyncPath } from '../relay/src/spool/file-ops';
import { newQueueId } from '../relay/src/spool/queue-id';
import { Spool } from '../relay/src/spool/spool';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : fallback);
const MESSAGES = option('messages', 2000);
const CONCURRENCY = option('concurrency', 20);
const body = Buffer.from(`Subject: bench\r\n\r\n${'x'.repeat(78)}\r\n`.repeat(64));

async function run(groupCommit: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-bench-'));
  const spool = new Spool(dir);
  await spool.open();
  if (!groupCommit) {
    // The alternative measured: every commit pays its own directory fsync.
    (spool as unknown as { queueSync: { sync(): Promise<void> } }).queueSync = { sync: () => fsyncPath(spool.queueDir) };
  }
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < MESSAGES) {
        next += 1;
        const id = newQueueId();
        const draft = await spool.begin(id);
        await draft.writeEnvelope({ id, receivedAt: new Date().toISOString(), mailFrom: 'a@x.test', rcptTo: ['b@y.test'], origin: 'submission', listener: 'submission', clientAddress: '127.0.0.1', smtpUtf8: false, bodyType: '7bit' });
        await draft.write(body);
        await draft.commit();
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  rmSync(dir, { recursive: true, force: true });
  return MESSAGES / seconds;
}

async function main(): Promise<void> {
  const results: Record<string, number[]> = { group: [], each: [] };
  for (let round = 0; round < 3; round++) {
    results.group.push(await run(true));
    results.each.push(await run(false));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[1];
  console.log(`spool commits, ${MESSAGES} messages, ${CONCURRENCY} writers, median of 3 alternating runs:`);
  console.log(`  group-committed directory fsync: ${median(results.group).toFixed(0)} msgs/s  (${results.group.map((v) => v.toFixed(0)).join(', ')})`);
  console.log(`  one directory fsync per message: ${median(results.each).toFixed(0)} msgs/s  (${results.each.map((v) => v.toFixed(0)).join(', ')})`);
}

void main();
