/**
 * The durable store: the only code that touches spoolDir. A message is written to tmp/, its file
 * fsync'ed, renamed into queue/ and the directory fsync'ed before the caller may answer 250, so
 * a crash at any moment leaves either a complete message in queue/ or a temp file that start-up
 * removes.
 *
 *   spoolDir/tmp/<id>.tmp     being written
 *   spoolDir/queue/<id>.msg   complete: one JSON envelope line, then the message bytes
 *   spoolDir/state/<id>.json  per-recipient delivery state (state.ts)
 *   spoolDir/control/<id|all>.retry  "retry now" requests from `mxkit queue retry`
 *   spoolDir/failed/<id>.json|.msg  ended without delivery and without a DSN (failed.ts)
 *   spoolDir/srs.secret       the SRS signing secret, made once
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DirectorySync } from './directory-sync';
import { SpoolDraft } from './draft';
import { createExclusive, readStart, readStartInPool, removeIfPresent } from './file-ops';
import { envelopeFromDisk, type SpoolEnvelope, type SpooledMessage } from './envelope';
import { FailedStore, type FailedRecord } from './failed';
import { newQueueId, QUEUE_ID_PATTERN } from './queue-id';
import { StateStore } from './state';

export { SpoolDraft };

/** Parses the envelope line at the head of a spool file's bytes, once its newline is there. */
function envelopeLine(data: Buffer, path: string, searchFrom = 0): SpooledMessage | undefined {
  const newline = data.indexOf(0x0a, searchFrom);
  if (newline < 0) return undefined;
  const envelope = envelopeFromDisk(JSON.parse(data.subarray(0, newline).toString('utf8')) as SpoolEnvelope);
  return { envelope, path, bodyOffset: newline + 1 };
}

/**
 * A whole file in as few operations as possible, through the thread pool (it may be large, and
 * not in the page cache): a message that fits the first read is open, read, close -- no stat.
 */
async function readWhole(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const first = Buffer.allocUnsafe(FIRST_READ_BYTES);
    const { bytesRead } = await handle.read(first, 0, first.length, 0);
    // Copied out, so a small message does not pin the whole first-read buffer.
    if (bytesRead < first.length) return Buffer.from(first.subarray(0, bytesRead));
    const { size } = await handle.stat();
    const whole = Buffer.allocUnsafe(Math.max(size, bytesRead));
    first.copy(whole, 0, 0, bytesRead);
    let filled = bytesRead;
    while (filled < whole.length) {
      const { bytesRead: more } = await handle.read(whole, filled, whole.length - filled, filled);
      if (more === 0) break;
      filled += more;
    }
    return whole.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

const FIRST_READ_BYTES = 64 * 1024;
/**
 * Where `head` reads land: one buffer serves them all (a fresh 64 KiB per message delivered was
 * most of the main thread's garbage), and what is kept is copied out of it before anything else
 * can read into it.
 */
const firstReadScratch = Buffer.allocUnsafe(FIRST_READ_BYTES);

export class Spool {
  readonly root: string;
  readonly tmpDir: string;
  readonly queueDir: string;
  readonly controlDir: string;
  readonly state: StateStore;
  readonly failed: FailedStore;
  private readonly queueSync: DirectorySync;

  constructor(spoolDir: string) {
    this.root = resolve(spoolDir);
    this.tmpDir = join(this.root, 'tmp');
    this.queueDir = join(this.root, 'queue');
    this.controlDir = join(this.root, 'control');
    this.queueSync = new DirectorySync(this.queueDir);
    this.state = new StateStore(this.root);
    this.failed = new FailedStore(this.root, this.queueSync);
  }

  /**
   * Creates the folders and removes incomplete temp files. Quick whatever the queue's size: the
   * queued messages are found afterwards by `inventory()`, while the relay already takes mail.
   */
  async open(): Promise<{ removedTemp: number }> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    await mkdir(this.queueDir, { recursive: true, mode: 0o700 });
    await mkdir(this.state.dir, { recursive: true, mode: 0o700 });
    await mkdir(this.controlDir, { recursive: true, mode: 0o700 });
    await this.failed.open();
    const temps = await readdir(this.tmpDir);
    await Promise.all(temps.map((name) => rm(join(this.tmpDir, name), { force: true })));
    return { removedTemp: temps.length };
  }

  /**
   * The ids of every queued message, oldest first, and which of them have a delivery state (the
   * rest were never attempted). Two directory listings, no file read per message. State whose
   * message is gone (removed, or a crash between the two deletions) is deleted here -- checked
   * again first, since the relay is running: a message taken in after the listing has state too.
   */
  async inventory(): Promise<{ ids: string[]; withState: Set<string> }> {
    const ids = (await readdir(this.queueDir)).filter((name) => name.endsWith('.msg')).map((name) => name.slice(0, -4)).filter((id) => QUEUE_ID_PATTERN.test(id)).sort();
    const queued = new Set(ids);
    const withState = new Set<string>();
    const orphans: string[] = [];
    for (const name of await readdir(this.state.dir)) {
      const id = name.split('.')[0];
      if (!queued.has(id)) orphans.push(name);
      else if (name === `${id}.json`) withState.add(id);
    }
    for (const name of orphans) {
      const id = name.split('.')[0];
      if (!QUEUE_ID_PATTERN.test(id) || !(await this.has(id))) await rm(join(this.state.dir, name), { force: true });
    }
    return { ids, withState };
  }

  /** Whether a message is still queued (it may have been removed by `mxkit queue remove`). */
  async has(id: string): Promise<boolean> {
    try {
      await access(this.pathOf(id));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error; // not "gone": a passing error the caller's retry handles
    }
  }

  /** Bytes of a queued message's file, 0 when it is gone (the attempt then finds it gone). */
  async sizeOf(id: string): Promise<number> {
    try {
      return (await stat(this.pathOf(id))).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
  }

  /**
   * The envelope and the whole message in one read (delivery needs both; messages are bounded by
   * limits.maxMessageBytes). `read` stays for listings, which need only the envelope line.
   */
  async load(id: string): Promise<{ message: SpooledMessage; body: Buffer }> {
    const path = this.pathOf(id);
    const data = await readWhole(path);
    const message = envelopeLine(data, path);
    if (!message) throw new Error(`spool file ${path} has no envelope line`);
    return { message, body: data.subarray(message.bodyOffset) };
  }

  /**
   * The envelope, and the message bytes too when the whole file came in the first read (a small
   * message, the usual case: then no second read is needed). A large message stays on disk: its
   * bytes are read where they are needed (`load`, or delivery's worker), not held here.
   *
   * `recent`: this process wrote the file moments ago, so it is in the page cache and the read
   * runs on the event loop (file-ops.ts says why). Any other file -- queued before a restart,
   * perhaps on a cold disk -- is read through the thread pool, so a queue of them being retried
   * never stalls the sessions.
   */
  async head(id: string, { recent = false }: { recent?: boolean } = {}): Promise<{ message: SpooledMessage; body?: Buffer }> {
    const path = this.pathOf(id);
    // The shared buffer only for the synchronous read: two reads in the pool could overlap.
    const buffer = recent ? firstReadScratch : Buffer.allocUnsafe(FIRST_READ_BYTES);
    const data = buffer.subarray(0, recent ? readStart(path, buffer) : await readStartInPool(path, buffer));
    const message = envelopeLine(data, path);
    if (!message) return { message: await this.read(id) };
    if (data.length < FIRST_READ_BYTES) return { message, body: Buffer.from(data.subarray(message.bodyOffset)) };
    return { message };
  }

  /**
   * The start of a queued message up to and including the blank line after its header section
   * (all of it when there is none): what delivery reads the From of a large message from, on the
   * main thread, without reading its body.
   */
  async readHeaderSection(message: SpooledMessage): Promise<Buffer> {
    const handle = await open(message.path, 'r');
    try {
      const chunks: Buffer[] = [];
      let read = 0;
      for (;;) {
        const chunk = Buffer.allocUnsafe(FIRST_READ_BYTES);
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, message.bodyOffset + read);
        if (bytesRead === 0) return Buffer.concat(chunks);
        chunks.push(chunk.subarray(0, bytesRead));
        read += bytesRead;
        const sofar = Buffer.concat(chunks);
        // Searched from a little before this chunk, so a blank line across two chunks is found.
        const end = sofar.subarray(0, 2).toString('latin1') === '\r\n' ? 0 : sofar.indexOf('\r\n\r\n', Math.max(0, read - bytesRead - 3));
        if (end >= 0) return sofar.subarray(0, end === 0 ? 2 : end + 4);
      }
    } finally {
      await handle.close();
    }
  }

  /** Spools a message made by the relay itself (a DSN): same durability as intake. */
  async enqueue(envelope: Omit<SpoolEnvelope, 'id' | 'receivedAt'>, body: Buffer): Promise<SpoolEnvelope> {
    const full: SpoolEnvelope = { id: newQueueId(), receivedAt: new Date().toISOString(), ...envelope };
    const draft = await this.begin(full.id);
    try {
      await draft.writeEnvelope(full);
      await draft.write(body);
      await draft.commit();
    } catch (error) {
      await draft.abort();
      throw error;
    }
    return full;
  }

  /** Asks the running relay (or the next one to start) to retry a message, or every message, now. */
  async requestRetry(id: string | 'all'): Promise<void> {
    if (id !== 'all') this.pathOf(id);
    await mkdir(this.controlDir, { recursive: true, mode: 0o700 });
    await writeFile(join(this.controlDir, `${id}.retry`), '');
  }

  /** Takes (reads and deletes) pending retry requests. */
  async takeRetryRequests(): Promise<string[]> {
    const names = await readdir(this.controlDir).catch(() => [] as string[]);
    const requests = names.filter((name) => name.endsWith('.retry'));
    await Promise.all(requests.map((name) => rm(join(this.controlDir, name), { force: true })));
    return requests.map((name) => name.slice(0, -'.retry'.length)).filter((id) => id === 'all' || QUEUE_ID_PATTERN.test(id));
  }

  /** A secret kept in the spool if one was ever made; never makes one. */
  async existingSecret(name: 'srs'): Promise<Buffer | undefined> {
    return readFile(join(this.root, `${name}.secret`)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
  }

  /** A secret kept in the spool (made on first use), e.g. for SRS: stable across restarts. */
  async secret(name: 'srs'): Promise<Buffer> {
    const path = join(this.root, `${name}.secret`);
    try {
      return await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, randomBytes(32), { mode: 0o600, flush: true });
    await rename(temp, path);
    return readFile(path);
  }

  async list(): Promise<SpooledMessage[]> {
    const names = (await readdir(this.queueDir)).filter((name) => name.endsWith('.msg')).sort();
    const messages: SpooledMessage[] = [];
    for (const name of names) {
      const message = await this.read(name.slice(0, -4)).catch(() => undefined);
      if (message) messages.push(message);
    }
    return messages;
  }

  async count(): Promise<number> {
    return (await readdir(this.queueDir)).filter((name) => name.endsWith('.msg')).length;
  }

  pathOf(id: string): string {
    if (!QUEUE_ID_PATTERN.test(id)) throw new Error(`not a queue id: ${id}`);
    return join(this.queueDir, `${id}.msg`);
  }

  /** Reads the envelope line of a spooled message. */
  async read(id: string): Promise<SpooledMessage> {
    const path = this.pathOf(id);
    const handle = await open(path, 'r');
    try {
      // The envelope line has no fixed size (many long recipients make it long): read until its newline.
      let head = Buffer.alloc(0);
      for (;;) {
        const chunk = Buffer.alloc(64 * 1024);
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, head.length);
        const searchFrom = head.length;
        head = Buffer.concat([head, chunk.subarray(0, bytesRead)]);
        const message = envelopeLine(head, path, searchFrom);
        if (message) return message;
        if (bytesRead === 0) throw new Error(`spool file ${path} has no envelope line`);
      }
    } finally {
      await handle.close();
    }
  }

  /** Removes a message and its delivery state (delivered, bounced, or `mxkit queue remove`). */
  async remove(id: string): Promise<boolean> {
    const existed = await removeIfPresent(this.pathOf(id));
    await this.queueSync.sync();
    await this.state.remove(id);
    return existed;
  }

  /**
   * Ends a message that failed without a DSN: it leaves the queue for the failed list (with the
   * record of why), and its delivery state goes.
   */
  async moveToFailed(record: FailedRecord): Promise<void> {
    await this.failed.add(record, this.pathOf(record.id));
    await this.state.remove(record.id);
  }

  /**
   * Starts writing a message; nothing is visible in queue/ until `commit`. With `headRoom`, the
   * envelope line and verdict headers are written at commit, in front of the message (draft.ts).
   */
  async begin(id: string, options: { headRoom?: number } = {}): Promise<SpoolDraft> {
    const tmpPath = join(this.tmpDir, `${id}.tmp`);
    const fd = await createExclusive(tmpPath, 0o600);
    return new SpoolDraft(id, tmpPath, this.pathOf(id), fd, this.queueSync, options.headRoom ?? 0);
  }
}
