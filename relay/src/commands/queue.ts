/**
 * `mxkit queue list|retry|remove [ID] --config FILE`: inspect and act on the spool, also while the
 * relay runs. It only reads the queue and state files (the running relay is their one writer);
 * `retry` drops a request file the relay picks up (or the next start does); `remove` deletes the
 * message and its state, without a bounce. `list --failed` shows the failed list instead: messages
 * that ended without delivery and without a DSN, with the reason and the remote reply.
 * `import DIR` moves another spool's queue in (queue-import.ts).
 */
import { readdir } from 'node:fs/promises';
import { readConfigFile } from '../config/load';
import type { SpooledMessage } from '../spool/envelope';
import { QUEUE_ID_PATTERN } from '../spool/queue-id';
import { Spool } from '../spool/spool';
import type { DeliveryState } from '../spool/state';
import type { FailedRecord } from '../spool/failed';
import { requireOption, UsageError, type ParsedArgs } from './args';
import { runQueueImport } from './queue-import';

export interface QueueEntry {
  id: string;
  receivedAt: string;
  from: string;
  attempts: number;
  nextAttemptAt: string | null;
  recipients: Array<{ to: string; status: string; attempts: number; lastError?: string }>;
}

export async function runQueueCommand(args: ParsedArgs, print: (line: string) => void): Promise<number> {
  const [action, id, ...extra] = args.positionals;
  if (action === 'import') return runQueueImport(args, print);
  if (extra.length > 0) throw new UsageError('queue takes at most one ID');
  if (id !== undefined && !QUEUE_ID_PATTERN.test(id)) throw new UsageError(`"${id}" is not a queue id`);
  const config = await readConfigFile(requireOption(args, 'config'));
  const spool = new Spool(config.spoolDir);
  switch (action) {
    case 'list': {
      if (args.options.has('failed')) {
        const failed = (await spool.failed.list()).filter((record) => id === undefined || record.id === id);
        if (args.options.has('json')) print(JSON.stringify(failed, null, 2));
        else formatFailed(failed).forEach(print);
        return 0;
      }
      const entries = await listQueue(spool, id);
      if (args.options.has('json')) print(JSON.stringify(entries, null, 2));
      else formatQueue(entries).forEach(print);
      return 0;
    }
    case 'retry':
      if (id !== undefined && !(await spool.has(id))) return notQueued(id);
      await spool.requestRetry(id ?? 'all');
      print(id ? `retry requested for ${id}` : 'retry requested for every queued message');
      return 0;
    case 'remove':
      if (id === undefined) throw new UsageError('queue remove needs an ID');
      if (!(await spool.remove(id))) return notQueued(id);
      print(`removed ${id} (no bounce sent)`);
      return 0;
    default:
      throw new UsageError('usage: mxkit queue list|retry|remove [ID] --config FILE [--json] [--failed] | mxkit queue import DIR --config FILE');
  }
}

function notQueued(id: string): number {
  process.stderr.write(`mxkit: ${id} is not in the queue\n`);
  return 1;
}

export async function listQueue(spool: Spool, only?: string): Promise<QueueEntry[]> {
  const names = await readdir(spool.queueDir).catch(() => [] as string[]);
  const entries: QueueEntry[] = [];
  for (const name of names.filter((file) => file.endsWith('.msg')).sort()) {
    const queueId = name.slice(0, -4);
    if (only && queueId !== only) continue;
    // A message can be delivered and removed between readdir and read: skip it.
    const message = await spool.read(queueId).catch(() => undefined);
    if (!message) continue;
    entries.push(entryOf(message, await spool.state.read(queueId).catch(() => undefined)));
  }
  return entries;
}

function entryOf(message: SpooledMessage, state: DeliveryState | undefined): QueueEntry {
  const { envelope } = message;
  return {
    id: envelope.id,
    receivedAt: envelope.receivedAt,
    from: envelope.mailFrom,
    attempts: state?.attempts ?? 0,
    nextAttemptAt: state?.nextAttemptAt ?? null,
    recipients: state
      ? state.recipients.map((r) => ({ to: r.to, status: r.status, attempts: r.attempts, ...(r.lastError ? { lastError: r.lastError } : {}) }))
      : envelope.rcptTo.map((to) => ({ to, status: 'pending', attempts: 0 })),
  };
}

function formatQueue(entries: readonly QueueEntry[]): string[] {
  if (entries.length === 0) return ['queue is empty'];
  const lines: string[] = [];
  for (const entry of entries) {
    lines.push(`${entry.id}  received ${entry.receivedAt}  from <${entry.from}>  attempts ${entry.attempts}  next ${entry.nextAttemptAt ?? 'now'}`);
    for (const r of entry.recipients) lines.push(`    ${r.status.padEnd(9)} <${r.to}>${r.lastError ? `  last error: ${r.lastError.replace(/\s+/g, ' ')}` : ''}`);
  }
  lines.push(`${entries.length} message${entries.length === 1 ? '' : 's'} queued`);
  return lines;
}

function formatFailed(records: readonly FailedRecord[]): string[] {
  if (records.length === 0) return ['failed list is empty'];
  const lines: string[] = [];
  for (const record of records) {
    lines.push(`${record.id}  received ${record.receivedAt} on ${record.listener} from <${record.mailFrom}>  failed ${record.failedAt}  kept until ${record.expiresAt}`);
    for (const r of record.recipients) {
      const why = r.noDsn === 'null_sender' ? 'no DSN: null sender' : 'no DSN: sender not authenticated';
      const original = r.original !== r.to ? ` (for <${r.original}>)` : '';
      lines.push(`    failed    <${r.to}>${original}  ${r.status} ${r.reason}${r.remoteMta ? ` from ${r.remoteMta}` : ''}: ${r.detail.replace(/\s+/g, ' ')}  [${why}]`);
    }
    for (const other of record.others) lines.push(`    ${other.status.padEnd(9)} <${other.to}>`);
  }
  lines.push(`${records.length} message${records.length === 1 ? '' : 's'} in the failed list`);
  return lines;
}
