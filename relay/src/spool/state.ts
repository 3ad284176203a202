/**
 * Per-recipient delivery state, kept next to the queued message as spoolDir/state/<id>.json.
 * Written atomically (temp file, fsync, rename, directory fsync) after every outcome, so a
 * recipient recorded as delivered is never sent to again, whatever crashes afterwards. A crash
 * between the remote 250 and this write can still repeat that one delivery: at-least-once is the
 * promise (RFC 5321 6.1 asks that a message not be lost; duplicates are the lesser evil).
 */
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { DirectorySync } from './directory-sync';
import { removeIfPresent } from './file-ops';
import type { NoDsnReason } from './failed';
import { QUEUE_ID_PATTERN } from './queue-id';

export type RecipientStatus = 'pending' | 'delivered' | 'bounced';

export interface RecipientState {
  /** Where the message goes (after routes and SRS reversal). */
  to: string;
  /** The envelope recipient the message was accepted for (differs when forwarded). */
  original: string;
  /** Envelope sender used for this recipient ('' is the null sender; SRS when forwarded). */
  mailFrom: string;
  status: RecipientStatus;
  attempts: number;
  lastAttemptAt?: string;
  /** Last reply or failure, for `mxkit queue list` and the DSN. */
  lastError?: string;
  /** RFC 3463 status of the last outcome. */
  statusCode?: string;
  /** Bounced, and the DSN about it is not spooled yet (survives a crash between the two). */
  dsnPending?: boolean;
  /** Bounced and no DSN may be sent (and why): the message ends in the failed list. */
  noDsn?: NoDsnReason;
  /** What ended it (remote_5xx, expired, no_route, ...): the metric label, kept for the failed list. */
  reason?: string;
  remoteMta?: string;
  /** One of the relay's own mailboxes (reports/sink.ts): stored locally, not sent on. */
  local?: 'dmarc' | 'tlsRpt' | 'complaints';
}

export interface DeliveryState {
  id: string;
  attempts: number;
  nextAttemptAt: string;
  recipients: RecipientState[];
  /** A delay warning DSN has been sent (sent at most once). */
  delayWarned?: boolean;
}

export class StateStore {
  readonly dir: string;
  private readonly sync: DirectorySync;
  /**
   * Messages this process spooled and has not written state for: they have none on disk (ids are
   * new, and only the running relay writes state), so reading or removing it needs no file
   * operation -- two fewer per message delivered at the first attempt.
   */
  private readonly fresh = new Set<string>();

  constructor(root: string) {
    this.dir = join(root, 'state');
    this.sync = new DirectorySync(this.dir);
  }

  pathOf(id: string): string {
    if (!QUEUE_ID_PATTERN.test(id)) throw new Error(`not a queue id: ${id}`);
    return join(this.dir, `${id}.json`);
  }

  /** A message just spooled by this process: it has no state until `write`. */
  markFresh(id: string): void {
    this.fresh.add(id);
  }

  /** Whether this process spooled the message and has written no state for it yet. */
  isFresh(id: string): boolean {
    return this.fresh.has(id);
  }

  /** The stored state, or undefined when the message has never been attempted. */
  async read(id: string): Promise<DeliveryState | undefined> {
    if (this.fresh.has(id)) return undefined;
    try {
      return JSON.parse(await readFile(this.pathOf(id), 'utf8')) as DeliveryState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async write(state: DeliveryState): Promise<void> {
    const path = this.pathOf(state.id);
    this.fresh.delete(state.id);
    const temp = `${path}.${process.pid}.tmp`;
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(state));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await this.sync.sync();
  }

  async remove(id: string): Promise<void> {
    const path = this.pathOf(id);
    if (this.fresh.delete(id)) return;
    await removeIfPresent(path);
  }
}
