/**
 * The suppression list: recipients that hard-bounced (RFC 3463 5.1.x: no such mailbox, domain or
 * host) or complained (an ARF report, RFC 5965). Submissions to them are refused at RCPT (550
 * 5.7.1 naming the reason and date), because mail to them hurts the sender's reputation
 * (Gmail and Yahoo bulk-sender rules count both).
 *
 * Kept as a journal of JSON lines in spoolDir/suppression.jsonl, appended by the running relay
 * only; `mxkit suppress remove` asks it through spoolDir/control (suppress-requests.ts). The
 * journal is rewritten compactly once it holds many more lines than entries. Bounded: past
 * `suppression.maxEntries` the oldest entries go.
 */
import { appendFile, readFile } from 'node:fs/promises';
import type { Logger } from '../ops/logger';
import { writeFileAtomic } from '../spool/atomic-file';

export type SuppressionReason = 'hard-bounce' | 'complaint';

export interface SuppressionEntry {
  /** Lower-case. */
  address: string;
  reason: SuppressionReason;
  /** The remote reply or the complaint's feedback type. */
  detail: string;
  at: string;
  /** The sending user whose mail caused it. */
  user?: string;
  queueId?: string;
}

type JournalLine = ({ op: 'add' } & SuppressionEntry) | { op: 'remove'; address: string; at: string };

export function normaliseAddress(address: string): string {
  return address.trim().toLowerCase();
}

/** Reads a journal into the list it describes; torn or foreign lines are skipped. */
export function replayJournal(text: string): { entries: Map<string, SuppressionEntry>; lines: number } {
  const entries = new Map<string, SuppressionEntry>();
  let lines = 0;
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.length > 8192) continue;
    let parsed: Partial<JournalLine>;
    try {
      parsed = JSON.parse(line) as Partial<JournalLine>;
    } catch {
      continue;
    }
    if (typeof parsed.address !== 'string' || typeof parsed.at !== 'string') continue;
    lines++;
    const address = normaliseAddress(parsed.address);
    if (parsed.op === 'remove') entries.delete(address);
    else if (parsed.op === 'add' && (parsed.reason === 'hard-bounce' || parsed.reason === 'complaint')) {
      const entry = parsed as SuppressionEntry;
      // Re-inserted so the Map's order stays oldest-first.
      entries.delete(address);
      entries.set(address, {
        address,
        reason: entry.reason,
        detail: String(entry.detail ?? ''),
        at: entry.at,
        ...(typeof entry.user === 'string' ? { user: entry.user } : {}),
        ...(typeof entry.queueId === 'string' ? { queueId: entry.queueId } : {}),
      });
    }
  }
  return { entries, lines };
}

export async function readSuppressionFile(path: string): Promise<Map<string, SuppressionEntry>> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  return replayJournal(text).entries;
}

export class SuppressionList {
  private entries = new Map<string, SuppressionEntry>();
  private journalLines = 0;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly maxEntries: number,
    private readonly logger: Logger,
    private readonly onChange: (size: number) => void = () => undefined,
  ) {}

  async open(): Promise<void> {
    const text = await readFile(this.path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    const { entries, lines } = replayJournal(text);
    this.entries = entries;
    this.journalLines = lines;
    this.evict();
    this.onChange(this.entries.size);
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(address: string): SuppressionEntry | undefined {
    return this.entries.get(normaliseAddress(address));
  }

  list(): SuppressionEntry[] {
    return [...this.entries.values()];
  }

  /** Adds a recipient (an address already listed keeps its first reason and date). */
  add(entry: SuppressionEntry): Promise<boolean> {
    const address = normaliseAddress(entry.address);
    if (this.entries.has(address)) return Promise.resolve(false);
    const stored = { ...entry, address, detail: entry.detail.slice(0, 300) };
    this.entries.set(address, stored);
    this.evict();
    this.onChange(this.entries.size);
    return this.append({ op: 'add', ...stored }).then(() => true);
  }

  remove(address: string): Promise<boolean> {
    const key = normaliseAddress(address);
    if (!this.entries.delete(key)) return Promise.resolve(false);
    this.onChange(this.entries.size);
    return this.append({ op: 'remove', address: key, at: new Date().toISOString() }).then(() => true);
  }

  /** Past maxEntries the oldest go; the journal says so too, so a restart does not bring them back. */
  private evict(): void {
    for (const address of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(address);
      this.logger.warn({ address, maxEntries: this.maxEntries }, 'suppression list full: the oldest entry was dropped');
      void this.append({ op: 'remove', address, at: new Date().toISOString() });
    }
  }

  private append(line: JournalLine): Promise<void> {
    this.writes = this.writes.then(async () => {
      try {
        this.journalLines++;
        if (this.journalLines > 2 * this.entries.size + 1000) {
          const text = [...this.entries.values()].map((entry) => `${JSON.stringify({ op: 'add', ...entry })}\n`).join('');
          await writeFileAtomic(this.path, text);
          this.journalLines = this.entries.size;
        } else {
          await appendFile(this.path, `${JSON.stringify(line)}\n`, { mode: 0o600 });
        }
      } catch (error) {
        this.logger.error({ err: error, file: this.path }, 'cannot write the suppression list; the change holds until restart');
      }
    });
    return this.writes;
  }
}
