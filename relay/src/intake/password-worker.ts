/**
 * scrypt for AUTH, off the event loop and off libuv's thread pool. node:crypto's async scrypt runs
 * on the same four pool threads the spool's writes and fsyncs wait on, so a burst of password
 * guesses made every other user's 250 wait for disk (issue 13: 0.12 s became 19 s). Here one worker
 * thread derives keys one at a time: at most one core goes to AUTH whatever the load, and the pool
 * stays free for the spool. Requests wait in two lanes -- addresses that logged in recently go
 * first -- and a full lane answers "busy" at once rather than queueing without bound.
 */
import { timingSafeEqual } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { DUMMY_HASH, parsePasswordHash } from './password';

// Plain CommonJS evaluated in the worker (the bundle is one file; no second script to ship).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync } = require('node:crypto');
parentPort.on('message', (job) => {
  try {
    const key = scryptSync(job.password, Buffer.from(job.salt), job.keyLength, { N: job.N, r: job.r, p: job.p, maxmem: job.maxmem });
    parentPort.postMessage({ id: job.id, key });
  } catch (error) {
    parentPort.postMessage({ id: job.id, error: String((error && error.message) || error) });
  }
});
`;

export type Lane = 'known' | 'unknown';

interface Job {
  id: number;
  password: string;
  salt: Buffer;
  keyLength: number;
  N: number;
  r: number;
  p: number;
  maxmem: number;
  resolve(key: Buffer): void;
  reject(error: Error): void;
}

export class PasswordVerifier {
  private worker: Worker | undefined;
  private readonly lanes: Record<Lane, Job[]> = { known: [], unknown: [] };
  private running: Job | undefined;
  private nextId = 0;

  /** `maxQueued`: jobs waiting per lane before "busy". */
  constructor(private readonly maxQueued = 32) {}

  /** true/false, or 'busy' when the lane is full (answer a temporary failure). */
  async verify(password: string, hash: string | undefined, lane: Lane): Promise<boolean | 'busy'> {
    if (this.lanes[lane].length >= this.maxQueued) return 'busy';
    // An unknown user costs the same as a known one, so timing does not reveal usernames.
    const parsed = (hash && parsePasswordHash(hash)) || DUMMY_HASH;
    const key = await new Promise<Buffer>((resolve, reject) => {
      this.lanes[lane].push({ id: this.nextId++, password, salt: parsed.salt, keyLength: parsed.key.length, N: parsed.N, r: parsed.r, p: parsed.p, maxmem: 256 * parsed.N * parsed.r + 1024 * 1024, resolve, reject });
      this.pump();
    });
    return parsed !== DUMMY_HASH && timingSafeEqual(key, parsed.key);
  }

  get queued(): number {
    return this.lanes.known.length + this.lanes.unknown.length;
  }

  private pump(): void {
    if (this.running) return;
    const job = this.lanes.known.shift() ?? this.lanes.unknown.shift();
    if (!job) return;
    this.running = job;
    const { id, password, salt, keyLength, N, r, p, maxmem } = job;
    this.ensureWorker().postMessage({ id, password, salt, keyLength, N, r, p, maxmem });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (reply: { id: number; key?: Uint8Array; error?: string }) => {
      const job = this.running;
      this.running = undefined;
      if (job && job.id === reply.id) {
        if (reply.key) job.resolve(Buffer.from(reply.key));
        else job.reject(new Error(reply.error ?? 'scrypt failed'));
      }
      this.pump();
    });
    const fail = (error: Error) => {
      this.worker = undefined;
      const job = this.running;
      this.running = undefined;
      job?.reject(error);
      this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.worker === worker) fail(new Error(`the password worker exited (${code})`));
    });
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    for (const job of [...this.lanes.known, ...this.lanes.unknown]) job.reject(new Error('shutting down'));
    this.lanes.known = [];
    this.lanes.unknown = [];
    await worker?.terminate();
  }
}
