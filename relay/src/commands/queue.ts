/**
 * `mxkit queue list|retry|remove [ID] --config FILE`: inspect and act on the spool, also while the
 * relay runs. It only reads the queue and state files (the running relay is their one writer);
 * `retry` drops a request file the relay picks up (or the next start does); `remove` deletes the
 * message and its state, without a bounce. `list --failed` shows the failed list instead: messages
 * that ended without delivery and without a DSN, with the reason and the remote reply.
 */
import { readdir } from 'node:fs/promises';
import { readConfigFile } from '../config/load';
import type { SpooledMessage } from '../spool/envelope';
import { QUEUE_ID_PATTERN } from '../spool/queue-id';
import { Spool } from '../spool/spool';
import type { DeliveryState } from '../spool/state';
import type { FailedRecord } from '../spool/failed';
import { CommandFailure, flag, noMorePositionals, requiredString, UsageError, type Command, type ParsedCommandLine, type Print } from './contract';
import { runQueueImport } from './queue-import';

export interface QueueEntry {
  id: string;
  receivedAt: string;
  from: string;
  attempts: number;
  nextAttemptAt: string | null;
  recipients: Array<{ to: string; status: string; attempts: number; lastError?: string }>;
}

export const queueCommand: Command = {
  name: 'queue',
  synopsis: 'queue list|retry|remove [ID] | import DIR --config FILE [--json] [--failed]',
  summary: 'inspect the spool, retry now, remove (no bounce), import a removed host\'s queue; --failed: messages that ended without delivery and without a DSN',
  usage: `usage: mxkit queue list [ID] --config FILE [--json] [--failed]
       mxkit queue retry [ID] --config FILE
       mxkit queue remove ID --config FILE
       mxkit queue import DIR --config FILE
  list       the queued messages and each recipient's state (--failed: the failed list instead)
  retry      attempt now (one message, or all), also while the relay runs
  remove     delete a message and its state, without a bounce
  import     move another spool's queue (DIR: a removed host's spoolDir) into this one`,
  options: { config: { type: 'string' }, json: { type: 'boolean' }, failed: { type: 'boolean' } },
  subcommands: ['list', 'retry', 'remove', 'import'],
  run: runQueueCommand,
};

async function runQueueCommand(args: ParsedCommandLine, print: Print): Promise<number> {
  const [action, id] = args.positionals;
  if (action === 'import') return runQueueImport(args, print);
  noMorePositionals(args, 2, 'argument (queue takes at most one ID)');
  if (id !== undefined && !QUEUE_ID_PATTERN.test(id)) throw new UsageError(`"${id}" is not a queue id`);
  if (flag(args, 'failed') && action !== 'list') throw new UsageError('--failed goes with list');
  if (action === 'remove' && id === undefined) throw new UsageError('queue remove needs an ID');
  const spool = new Spool((await readConfigFile(requiredString(args, 'config'))).spoolDir);
  if (action === 'list') return list(spool, id, args, print);
  if (action === 'retry') return retry(spool, id, print);
  return remove(spool, id as string, print);
}

async function list(spool: Spool, id: string | undefined, args: ParsedCommandLine, print: Print): Promise<number> {
  if (flag(args, 'failed')) {
    const failed = (await spool.failed.list()).filter((record) => id === undefined || record.id === id);
    if (flag(args, 'json')) print(JSON.stringify(failed, null, 2));
    else formatFailed(failed).forEach(print);
    return 0;
  }
  const entries = await listQueue(spool, id);
  if (flag(args, 'json')) print(JSON.stringify(entries, null, 2));
  else formatQueue(entries).forEach(print);
  return 0;
}

async function retry(spool: Spool, id: string | undefined, print: Print): Promise<number> {
  if (id !== undefined && !(await spool.has(id))) return notQueued(id);
  await spool.requestRetry(id ?? 'all');
  print(id ? `retry requested for ${id}` : 'retry requested for every queued message');
  return 0;
}

async function remove(spool: Spool, id: string, print: Print): Promise<number> {
  if (!(await spool.remove(id))) return notQueued(id);
  print(`removed ${id} (no bounce sent)`);
  return 0;
}

function notQueued(id: string): never {
  throw new CommandFailure(`${id} is not in the queue`);
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
