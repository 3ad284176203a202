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
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DirectorySync } from './directory-sync';
import { SpoolDraft } from './draft';
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

  /** Creates the folders, removes incomplete temp files, and returns every complete message. */
  async open(): Promise<{ messages: SpooledMessage[]; removedTemp: number }> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    await mkdir(this.queueDir, { recursive: true, mode: 0o700 });
    await mkdir(this.state.dir, { recursive: true, mode: 0o700 });
    await mkdir(this.controlDir, { recursive: true, mode: 0o700 });
    await this.failed.open();
    const temps = await readdir(this.tmpDir);
    await Promise.all(temps.map((name) => rm(join(this.tmpDir, name), { force: true })));
    const messages = await this.list();
    // State whose message is gone (removed, or a crash between the two deletions) is dropped.
    const live = new Set(messages.map((message) => message.envelope.id));
    const states = await readdir(this.state.dir);
    await Promise.all(
      states.filter((name) => !live.has(name.split('.')[0])).map((name) => rm(join(this.state.dir, name), { force: true })),
    );
    return { messages, removedTemp: temps.length };
  }

  /** Whether a message is still queued (it may have been removed by `mxkit queue remove`). */
  async has(id: string): Promise<boolean> {
    try {
      await (await open(this.pathOf(id), 'r')).close();
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
    const data = await readFile(path);
    const message = envelopeLine(data, path);
    if (!message) throw new Error(`spool file ${path} has no envelope line`);
    return { message, body: data.subarray(message.bodyOffset) };
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
    const existed = await this.has(id);
    await rm(this.pathOf(id), { force: true });
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
    const handle = await open(tmpPath, 'wx+', 0o600);
    return new SpoolDraft(id, tmpPath, this.pathOf(id), handle, this.queueSync, options.headRoom ?? 0);
  }
}
