/**
 * The trace store's writer: JSON lines appended to segment files in spoolDir/trace, a new segment
 * each UTC day and whenever one reaches `segmentBytes`; segments older than
 * `delivery.traceRetention` are deleted, and the oldest go first whenever the folder grows past
 * `maxBytes`. So the store is bounded in time and in space whatever the mail volume.
 *
 * Tracing must never hold up mail: entries are buffered and written in batches; when the disk
 * cannot keep up (or fails) entries are dropped and counted (mxkit_trace_dropped_total), never
 * waited for. The trace is a diagnostic record, not the queue: it is not fsync'ed per line.
 */
import { appendFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../ops/logger';
import type { TraceEntry } from './entry';

export const SEGMENT_PATTERN = /^\d{8}T\d{6}-[0-9a-z]+\.jsonl$/;

export interface TraceStoreOptions {
  dir: string;
  retentionMs: number;
  /** The whole folder's ceiling (default 512 MiB). */
  maxBytes?: number;
  /** One segment's size before the next begins (default 16 MiB). */
  segmentBytes?: number;
  logger: Logger;
  /** Called with the number of entries dropped. */
  onDrop?(count: number): void;
  now?: () => number;
}

const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const FLUSH_DELAY_MS = 50;
const PRUNE_EVERY_MS = 3_600_000;

export class TraceWriter {
  private buffer: string[] = [];
  private bufferedBytes = 0;
  private segment: { path: string; bytes: number; day: string } | undefined;
  private writing: Promise<void> = Promise.resolve();
  private flushTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private sequence = 0;
  private failing = false;
  private readonly now: () => number;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;

  constructor(private readonly options: TraceStoreOptions) {
    this.now = options.now ?? Date.now;
    this.maxBytes = options.maxBytes ?? 512 * 1024 * 1024;
    this.segmentBytes = options.segmentBytes ?? 16 * 1024 * 1024;
  }

  async open(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    await this.prune();
    this.pruneTimer = setInterval(() => void this.prune().catch(() => undefined), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  append(entry: TraceEntry): void {
    const line = `${JSON.stringify(entry)}\n`;
    if (this.bufferedBytes + line.length > MAX_BUFFERED_BYTES) {
      this.options.onDrop?.(1);
      return;
    }
    this.buffer.push(line);
    this.bufferedBytes += line.length;
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => void this.flush(), FLUSH_DELAY_MS);
      this.flushTimer.unref();
    }
  }

  /** Writes everything buffered so far; resolves when it is on disk (readers call this first). */
  flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const lines = this.buffer;
    if (lines.length === 0) return this.writing;
    this.buffer = [];
    this.bufferedBytes = 0;
    this.writing = this.writing.then(() => this.write(lines));
    return this.writing;
  }

  private async write(lines: string[]): Promise<void> {
    const text = lines.join('');
    try {
      const segment = await this.currentSegment(Buffer.byteLength(text));
      await appendFile(segment.path, text, { mode: 0o600 });
      segment.bytes += Buffer.byteLength(text);
      if (this.failing) this.options.logger.info('trace store writable again');
      this.failing = false;
    } catch (error) {
      this.options.onDrop?.(lines.length);
      if (!this.failing) this.options.logger.warn({ err: error, dir: this.options.dir }, 'cannot write the delivery trace; entries are dropped until it works again');
      this.failing = true;
      this.segment = undefined;
    }
  }

  private async currentSegment(adding: number): Promise<{ path: string; bytes: number; day: string }> {
    const now = new Date(this.now());
    const day = now.toISOString().slice(0, 10);
    if (this.segment && this.segment.day === day && this.segment.bytes + adding <= this.segmentBytes) return this.segment;
    const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 15);
    const name = `${stamp}-${(this.sequence++).toString(36)}${process.pid.toString(36)}.jsonl`;
    const rotated = this.segment !== undefined;
    this.segment = { path: join(this.options.dir, name), bytes: 0, day };
    if (rotated) await this.prune();
    return this.segment;
  }

  /** Deletes segments past the retention, then the oldest while the folder is over maxBytes. */
  async prune(): Promise<void> {
    const names = (await readdir(this.options.dir).catch(() => [] as string[])).filter((name) => SEGMENT_PATTERN.test(name)).sort();
    const segments = await Promise.all(
      names.map(async (name) => {
        const path = join(this.options.dir, name);
        const info = await stat(path).catch(() => undefined);
        return { path, size: info?.size ?? 0, mtimeMs: info?.mtimeMs ?? 0 };
      }),
    );
    const oldest = this.now() - this.options.retentionMs;
    let total = segments.reduce((sum, segment) => sum + segment.size, 0);
    for (const segment of segments) {
      if (segment.path === this.segment?.path) continue;
      if (segment.mtimeMs >= oldest && total <= this.maxBytes) continue;
      await rm(segment.path, { force: true });
      total -= segment.size;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
    await this.flush();
  }
}
