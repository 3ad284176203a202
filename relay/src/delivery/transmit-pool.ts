/**
 * Runs outbound transactions (transmit.ts: read, DKIM-sign, SMTP) on worker threads, so the main
 * thread keeps intake -- SMTP sessions, the spool's fsyncs, scheduling -- and delivery's CPU goes
 * to the other cores (docs/benchmarks.md: one core for intake, the rest for delivery). The relay's
 * state stays on the main thread: a worker only turns a job (plain data) into a session result.
 *
 * A worker runs a small bundle of its own (transmit-worker-main.ts), carried inside dist/mxkit.js
 * as source (embedded-worker.ts): still one file to ship, and the worker loads only the signer and
 * the SMTP client. Where there is no such source -- the TypeScript sources under jest -- or a single
 * core, jobs run in place, through the same function. A worker that dies fails its jobs (the
 * scheduler retries them; delivery state is on disk) and is replaced on the next job.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../ops/logger';
import { TRANSMIT_WORKER_SOURCE } from './embedded-worker';
import { closeIdleConnections } from './smtp-client';
import { SignatureCache, transmit, type TransmitJob, type TransmitResult } from './transmit';

/** workerData of a transmit worker (cli.ts recognises it). */
export interface TransmitWorkerData {
  mxkitWorker: 'transmit';
}

export type ToWorker = { type: 'job'; id: number; job: TransmitJob } | { type: 'close' };
export type FromWorker = { type: 'result'; id: number; result: TransmitResult } | { type: 'error'; id: number; message: string } | { type: 'closed' };

export interface TransmitPoolOptions {
  logger: Logger;
  /** Worker threads (default: one per core but the first, at most 4; 0 runs jobs in place). */
  workers?: number;
  /** The JavaScript a worker evaluates (default: the one the build embedded). */
  workerSource?: string;
}

interface Pending {
  resolve(result: TransmitResult): void;
  reject(error: Error): void;
}

class TransmitWorker {
  readonly pending = new Map<number, Pending>();
  private readonly closed: Promise<void>;

  constructor(
    readonly worker: Worker,
    onGone: (self: TransmitWorker, error: Error) => void,
  ) {
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'closed') return;
      const job = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === 'result') job?.resolve(message.result);
      else job?.reject(new Error(message.message));
    });
    worker.on('error', (error: Error) => onGone(this, error));
    this.closed = new Promise((resolve) => worker.once('exit', (code) => {
      onGone(this, new Error(`the transmit worker exited (${code})`));
      resolve();
    }));
  }

  failAll(error: Error): void {
    for (const job of this.pending.values()) job.reject(error);
    this.pending.clear();
  }

  async close(): Promise<void> {
    const message: ToWorker = { type: 'close' };
    this.worker.postMessage(message);
    // A worker closes its idle outbound connections, then its port; cut it if that takes long.
    const cut = setTimeout(() => void this.worker.terminate(), 5000);
    await this.closed;
    clearTimeout(cut);
  }
}

export class TransmitPool {
  private readonly workers: Array<TransmitWorker | undefined>;
  private readonly source: string | undefined;
  private readonly inlineCache = new SignatureCache();
  private nextId = 0;
  private closing = false;

  constructor(private readonly options: TransmitPoolOptions) {
    this.source = options.workerSource ?? TRANSMIT_WORKER_SOURCE;
    const count = options.workers ?? Math.min(4, availableParallelism() - 1);
    this.workers = this.source ? new Array<TransmitWorker | undefined>(Math.max(0, count)).fill(undefined) : [];
  }

  /** Whether jobs run on worker threads (false: in place). */
  get threaded(): boolean {
    return this.workers.length > 0;
  }

  send(job: TransmitJob): Promise<TransmitResult> {
    if (this.closing) return Promise.reject(new Error('delivery is stopping'));
    if (!this.threaded) return transmit(job, this.inlineCache);
    // One message's jobs go to one worker, whose cache then signs it once.
    const index = job.sign ? hash(job.sign.signKey) % this.workers.length : this.nextId % this.workers.length;
    const worker = this.workers[index] ?? this.start(index);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      worker.pending.set(id, { resolve, reject });
      const message: ToWorker = { type: 'job', id, job };
      worker.worker.postMessage(message);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((worker) => worker?.close()));
    closeIdleConnections();
  }

  private start(index: number): TransmitWorker {
    const workerData: TransmitWorkerData = { mxkitWorker: 'transmit' };
    const worker = new TransmitWorker(
      new Worker(this.source as string, {
        eval: true,
        workerData,
        // Its own stdout would need the main thread to pump it; the worker logs nothing itself.
        stdout: false,
        stderr: false,
        // A small young generation: the worker's garbage is short-lived, and memory is a figure.
        resourceLimits: { maxYoungGenerationSizeMb: 8 },
      }),
      (gone, error) => {
        if (this.workers[index] === gone) this.workers[index] = undefined;
        gone.failAll(error);
        if (!this.closing) this.options.logger.error({ err: error }, 'a delivery worker stopped; its attempts are retried');
      },
    );
    // A worker never keeps the process alive on its own.
    worker.worker.unref();
    this.workers[index] = worker;
    return worker;
  }
}

/** A small stable hash (FNV-1a) of a queue id. */
function hash(text: string): number {
  let value = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) value = Math.imul(value ^ text.charCodeAt(index), 0x01000193) >>> 0;
  return value;
}
