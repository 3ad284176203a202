/**
 * The failed list: messages that ended without delivery to some recipient and without a DSN to
 * their sender (an unauthenticated sender on `mx`, whom a DSN would be backscatter to, or a null
 * sender), kept for `delivery.failedRetention` so an operator can see what was lost and why
 * (`mxkit queue list --failed`), then deleted. RFC 5321 6.1: a message is either delivered, or its
 * sender is told, or -- when neither is possible -- the failure must not be silent; this is where
 * it stays visible.
 *
 *   spoolDir/failed/<id>.json   the record (why, per recipient the status and the remote reply)
 *   spoolDir/failed/<id>.msg    the spool file, moved here from queue/ by rename
 *
 * The record is written (fsync, rename) before the message moves, so after a crash either the
 * message is still queued (its next attempt ends it again, rewriting the record) or both are here.
 */
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DirectorySync } from './directory-sync';
import { QUEUE_ID_PATTERN } from './queue-id';

/** Why no DSN was sent about a failed recipient. */
export type NoDsnReason = 'unauthenticated_sender' | 'null_sender';

export interface FailedRecipient {
  to: string;
  /** The address the message was accepted for (differs when forwarded). */
  original: string;
  /** RFC 3463 status of the final outcome. */
  status: string;
  /** What ended it: remote_5xx, expired, no_route, null_mx, ... (the metric label). */
  reason: string;
  /** The remote reply or the local failure. */
  detail: string;
  remoteMta?: string;
  noDsn: NoDsnReason;
}

export interface FailedRecord {
  id: string;
  receivedAt: string;
  failedAt: string;
  /** When the entry is deleted (failedAt + delivery.failedRetention). */
  expiresAt: string;
  mailFrom: string;
  listener: string;
  clientAddress: string;
  authUser?: string;
  recipients: FailedRecipient[];
  /** Recipients of the same message that were delivered (or got a DSN), for context. */
  others: Array<{ to: string; status: string }>;
}

export class FailedStore {
  readonly dir: string;
  private readonly sync: DirectorySync;

  constructor(
    root: string,
    private readonly queueSync: DirectorySync,
  ) {
    this.dir = join(root, 'failed');
    this.sync = new DirectorySync(this.dir);
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // Temp files of an interrupted record write.
    const names = await readdir(this.dir);
    await Promise.all(names.filter((name) => name.endsWith('.tmp')).map((name) => rm(join(this.dir, name), { force: true })));
  }

  private pathOf(id: string, extension: 'json' | 'msg'): string {
    if (!QUEUE_ID_PATTERN.test(id)) throw new Error(`not a queue id: ${id}`);
    return join(this.dir, `${id}.${extension}`);
  }

  /** Records why the message failed, then moves its spool file here from `queuePath`. */
  async add(record: FailedRecord, queuePath: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const path = this.pathOf(record.id, 'json');
    const temp = `${path}.${process.pid}.tmp`;
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(record));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await rename(queuePath, this.pathOf(record.id, 'msg'));
    await this.sync.sync();
    await this.queueSync.sync();
  }

  /** Every complete entry (record and message both present), oldest first. */
  async list(): Promise<FailedRecord[]> {
    const names = new Set(await readdir(this.dir).catch(() => [] as string[]));
    const records: FailedRecord[] = [];
    for (const name of [...names].filter((file) => file.endsWith('.json')).sort()) {
      const id = name.slice(0, -'.json'.length);
      if (!QUEUE_ID_PATTERN.test(id) || !names.has(`${id}.msg`)) continue;
      const record = await readFile(join(this.dir, name), 'utf8')
        .then((text) => JSON.parse(text) as FailedRecord)
        .catch(() => undefined);
      if (record) records.push(record);
    }
    return records;
  }

  async count(): Promise<number> {
    return (await this.list()).length;
  }

  /**
   * Deletes entries whose retention is over, and records whose message never arrived here and is
   * no longer queued (`isQueued` false: removed with `mxkit queue remove` after a crash). Returns
   * how many entries were deleted.
   */
  async prune(now: Date, isQueued: (id: string) => Promise<boolean>): Promise<number> {
    const names = new Set(await readdir(this.dir).catch(() => [] as string[]));
    let removed = 0;
    for (const name of names) {
      const match = /^([0-9A-Z]{19})\.json$/.exec(name);
      if (!match) continue;
      const id = match[1];
      if (!names.has(`${id}.msg`)) {
        if (!(await isQueued(id))) await rm(join(this.dir, name), { force: true });
        continue;
      }
      const record = await readFile(join(this.dir, name), 'utf8')
        .then((text) => JSON.parse(text) as FailedRecord)
        .catch(() => undefined);
      // An unreadable record can be neither listed nor explained: it goes with its message.
      const expired = record === undefined || Date.parse(record.expiresAt) <= now.getTime();
      if (!expired) continue;
      // Message first: a crash in between leaves a record without a message, which the next
      // prune removes (above), never a message nobody can explain.
      await rm(this.pathOf(id, 'msg'), { force: true });
      await rm(join(this.dir, name), { force: true });
      removed++;
    }
    if (removed > 0) await this.sync.sync();
    return removed;
  }
}
