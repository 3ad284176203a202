/**
 * A message being written to spoolDir/tmp. Exactly one of `commit` or `abort` ends it.
 *
 * The intake writes the message once, as it arrives, and decides about it afterwards (inbound
 * checks read it back from this file). Their verdict headers go in front of the message, so a
 * draft can be begun with `headRoom`: the message is written after that many bytes, and `commit`
 * fills the room with the envelope line (padded with spaces, which JSON allows before the newline)
 * and the headers. Headers too large for the room are handled by copying the message once into a
 * second temp file behind them, in bounded chunks: slower, never wrong, never in memory.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { DirectorySync } from './directory-sync';
import type { SpoolEnvelope } from './envelope';
import { closeSync, createExclusive, fsyncFd, LARGE_WRITE_BYTES, readSync, removeIfPresent, renameSync, writeAllAt } from './file-ops';

const COPY_CHUNK = 64 * 1024;
/**
 * Small pieces are gathered up to this many bytes and written together: a 5 KB message becomes
 * one write instead of three (envelope line, Received and header section, body). A piece this
 * large or larger is written at once, uncopied, through the thread pool (file-ops.ts), so a large
 * message still streams to disk; per draft at most this much waits in memory.
 */
const GATHER_BYTES = LARGE_WRITE_BYTES;

export interface DraftHead {
  envelope: SpoolEnvelope;
  /** Header lines that go in front of the written message (CRLF-terminated). */
  prefix: Buffer;
}

export class SpoolDraft {
  /** The message's length so far: what is on disk, then the `gatheredBytes` not written yet. */
  private position: number;
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  private closed = false;
  private headerBytes = 0;

  constructor(
    readonly id: string,
    private tmpPath: string,
    private readonly finalPath: string,
    private fd: number,
    private readonly queueSync: DirectorySync,
    private readonly headRoom = 0,
  ) {
    this.position = headRoom;
  }

  /** Bytes of message written so far (after the envelope line or the head room). */
  get bodyBytes(): number {
    return this.position - this.headerBytes - this.headRoom;
  }

  async writeEnvelope(envelope: SpoolEnvelope): Promise<void> {
    if (this.position !== 0 || this.headRoom !== 0) throw new Error('the envelope goes first (or into the head room at commit)');
    const line = Buffer.from(`${JSON.stringify(envelope)}\n`, 'utf8');
    await this.write(line);
    this.headerBytes = line.length;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.gatheredBytes + chunk.length > GATHER_BYTES) await this.flush();
    if (chunk.length >= GATHER_BYTES) {
      await writeAllAt(this.fd, chunk, chunk.length, this.position);
    } else {
      // A copy: the caller may reuse its buffer once this resolves.
      this.gathered.push(Buffer.from(chunk));
      this.gatheredBytes += chunk.length;
    }
    this.position += chunk.length;
  }

  /** Writes what has been gathered (`commit` and `readBack` do it first). */
  async flush(): Promise<void> {
    if (this.gatheredBytes === 0) return;
    const bytes = this.gathered.length === 1 ? this.gathered[0] : Buffer.concat(this.gathered, this.gatheredBytes);
    await writeAllAt(this.fd, bytes, bytes.length, this.position - this.gatheredBytes);
    this.gathered = [];
    this.gatheredBytes = 0;
  }

  /** What has been written after the head room, read back from the file (for inbound checks). */
  readBack(): Readable {
    const flush = () => this.flush();
    const path = this.tmpPath;
    const start = this.headRoom;
    return Readable.from(
      (async function* () {
        await flush();
        yield* createReadStream(path, { start, highWaterMark: COPY_CHUNK });
      })(),
      { objectMode: false },
    );
  }

  /**
   * Makes the message durable and visible: fsync file, rename into queue/, fsync queue/ (group
   * commit). With a head room, `head` says what goes into it.
   */
  async commit(head?: DraftHead): Promise<void> {
    await this.flush();
    if (this.headRoom > 0) {
      if (!head) throw new Error('a draft with head room needs its head at commit');
      await this.writeHead(head);
    }
    await fsyncFd(this.fd);
    this.close();
    renameSync(this.tmpPath, this.finalPath);
    await this.queueSync.sync();
  }

  async abort(): Promise<void> {
    this.gathered = [];
    this.gatheredBytes = 0;
    try {
      this.close();
    } catch {
      // Already unusable; removing the file is what matters.
    }
    await removeIfPresent(this.tmpPath);
  }

  private async writeHead({ envelope, prefix }: DraftHead): Promise<void> {
    const json = Buffer.from(JSON.stringify(envelope), 'utf8');
    const padding = this.headRoom - json.length - 1 - prefix.length;
    if (padding >= 0) {
      const head = Buffer.concat([json, Buffer.alloc(padding, 0x20), Buffer.from('\n'), prefix]);
      await writeAllAt(this.fd, head, head.length, 0);
      return;
    }
    await this.moveBehind(Buffer.concat([json, Buffer.from('\n'), prefix]));
  }

  /** The head does not fit: a new temp file gets the head, then the message, copied in chunks. */
  private async moveBehind(head: Buffer): Promise<void> {
    const movedPath = `${this.tmpPath}.moved`;
    const moved = await createExclusive(movedPath, 0o600);
    try {
      await writeAllAt(moved, head, head.length, 0);
      const buffer = Buffer.alloc(COPY_CHUNK);
      let target = head.length;
      for (let source = this.headRoom; source < this.position; ) {
        const bytesRead = readSync(this.fd, buffer, 0, Math.min(COPY_CHUNK, this.position - source), source);
        if (bytesRead === 0) throw new Error('the spool draft is shorter than written');
        await writeAllAt(moved, buffer, bytesRead, target);
        source += bytesRead;
        target += bytesRead;
      }
    } catch (error) {
      try {
        closeSync(moved);
      } catch {
        // The copy failed already: removing the half-made file is what matters, and the copy's
        // error is the one to report.
      }
      await removeIfPresent(movedPath);
      throw error;
    }
    closeSync(this.fd);
    await removeIfPresent(this.tmpPath);
    this.fd = moved;
    this.tmpPath = movedPath;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
