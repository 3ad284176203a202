/**
 * The inbox's mailbox on disk (state folder `inbox/`): `<id>.eml` is the message as stored (trace
 * and Authentication-Results headers first, like any provider), `<id>.json` what the page shows.
 * The JSON is written last, so a listed message always has its source. Listeners hear of each new
 * message, which is what the page's live updates and the tests wait on.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Verdicts } from './verdicts';

export interface StoredMessage {
  id: string;
  receivedAt: string;
  envelope: { mailFrom: string; rcptTo: string[] };
  /** rdns: the forward-confirmed reverse DNS name, when the client's address has one. */
  client: { ip: string; helo: string; rdns?: string };
  /** null: the message came over plain text. */
  tls: { protocol: string; cipher: string } | null;
  from: string;
  to: string;
  subject: string;
  size: number;
  verdicts: Verdicts;
  /**
   * rspamd's view of the message, as a receiving provider's filter would score it; null when no
   * rspamd runs (or it failed). Absent in messages stored before rspamd support.
   */
  spam?: SpamScore | null;
  /** The relay's queue id (from its Received header): what `mxkit trace` and the trace link take. */
  queueId?: string;
}

export interface SpamScore {
  score: number;
  /** rspamd's recommended action: "no action", "add header", "reject", ... */
  action: string;
  /** Strongest first. */
  symbols: Array<{ name: string; score: number }>;
}

export type NewMessage = Omit<StoredMessage, 'id' | 'size'>;

const ID_PATTERN = /^[0-9a-z]{9,12}-[0-9a-f]{8}$/;

export class InboxStore {
  // One listener per open page (Server-Sent Events) plus the console: more than EventEmitter's default 10.
  private readonly events = new EventEmitter().setMaxListeners(1000);

  constructor(readonly dir: string) {}

  /** Sortable by time of arrival, unique, and safe in a URL path and a file name. */
  private newId(): string {
    return `${Date.now().toString(36).padStart(9, '0')}-${randomBytes(4).toString('hex')}`;
  }

  async save(raw: Buffer, message: NewMessage): Promise<StoredMessage> {
    const stored: StoredMessage = { id: this.newId(), ...message, size: raw.length };
    await writeFile(join(this.dir, `${stored.id}.eml`), raw, { mode: 0o600 });
    const metaPath = join(this.dir, `${stored.id}.json`);
    await writeFile(`${metaPath}.tmp`, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    await rename(`${metaPath}.tmp`, metaPath);
    this.events.emit('message', stored);
    return stored;
  }

  /** Newest first. A file that does not parse (edited by hand, say) is left out, not fatal. */
  async list(): Promise<StoredMessage[]> {
    const names = (await readdir(this.dir)).filter((name) => name.endsWith('.json') && ID_PATTERN.test(name.slice(0, -5)));
    const messages = await Promise.all(
      names.map(async (name) => {
        try {
          return JSON.parse(await readFile(join(this.dir, name), 'utf8')) as StoredMessage;
        } catch {
          return undefined;
        }
      }),
    );
    return messages.filter((m): m is StoredMessage => m !== undefined).sort((a, b) => b.id.localeCompare(a.id));
  }

  /** The stored source, or undefined for an id that is malformed or unknown. */
  async raw(id: string): Promise<Buffer | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    return readFile(join(this.dir, `${id}.eml`)).catch(() => undefined);
  }

  onMessage(listener: (message: StoredMessage) => void): () => void {
    this.events.on('message', listener);
    return () => this.events.off('message', listener);
  }
}
