/**
 * The queue a relay finds at start, picked up in the background while intake already takes mail
 * (a restart with 100,000 queued messages must not keep the listeners closed: docs/benchmarks.md).
 * Two directory listings say which messages there are and which were attempted before; the
 * attempted ones are scheduled at the next attempt their state records, the others now. State is
 * read a few files at a time so intake's own file operations never queue behind the whole backlog.
 */
import type { Logger } from '../ops/logger';
import type { RelayMetrics } from '../ops/metrics';
import { queueIdTime } from '../spool/queue-id';
import type { Spool } from '../spool/spool';

export interface RecoveredMessage {
  id: string;
  /** When it was received, from its queue id (made at receipt). */
  receivedAt: string;
}

export interface RecoveryDeps {
  spool: Pick<Spool, 'inventory' | 'state'>;
  metrics: Pick<RelayMetrics, 'spoolMessages' | 'spoolRecovering'>;
  logger: Logger;
  schedule(id: string, at: number): void;
  /** Already handled by this run (spooled or scheduled since start): not counted or scheduled again. */
  known(id: string): boolean;
  /** Each batch as it is scheduled (the queue-age watch learns about them). */
  found?(batch: readonly RecoveredMessage[]): void;
  /** True once the relay is stopping: recovery ends early. */
  stopped(): boolean;
}

/** State files read at once: enough to keep the disk busy, few enough not to crowd out intake. */
const READ_CONCURRENCY = 8;
const BATCH = 1000;

export async function recoverQueue(deps: RecoveryDeps): Promise<number> {
  const started = Date.now();
  deps.metrics.spoolRecovering.set(1);
  let recovered = 0;
  try {
    const { ids, withState } = await deps.spool.inventory();
    for (let offset = 0; offset < ids.length && !deps.stopped(); offset += BATCH) {
      const batch = ids.slice(offset, offset + BATCH).filter((id) => !deps.known(id));
      const dueTimes = await mapLimited(batch, READ_CONCURRENCY, (id) => (withState.has(id) ? nextAttemptOf(deps.spool, id) : Promise.resolve(Date.now())));
      const found: RecoveredMessage[] = [];
      batch.forEach((id, index) => {
        if (deps.known(id)) return;
        deps.schedule(id, dueTimes[index]);
        found.push({ id, receivedAt: new Date(queueIdTime(id)).toISOString() });
      });
      deps.metrics.spoolMessages.inc(found.length);
      deps.found?.(found);
      recovered += found.length;
    }
    deps.logger.info({ queued: recovered, ms: Date.now() - started }, 'queued messages scheduled');
    return recovered;
  } finally {
    deps.metrics.spoolRecovering.set(0);
  }
}

/** The recorded next attempt; now when the state is unreadable (the attempt will say why). */
async function nextAttemptOf(spool: Pick<Spool, 'state'>, id: string): Promise<number> {
  const state = await spool.state.read(id).catch(() => undefined);
  const at = state ? Date.parse(state.nextAttemptAt) : NaN;
  return Number.isFinite(at) ? at : Date.now();
}

async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
