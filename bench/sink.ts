/** Postfix's smtp-sink as the destination of every system, counting what arrives. */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';

export interface Sink {
  host: string;
  port: number;
  process: ChildProcess;
  /** Messages (transactions) the sink has accepted so far. */
  count(): number;
  /** Resolves with the time (ms since epoch) at which the count reached `target`. */
  reach(target: number): Promise<number>;
  stop(): Promise<void>;
}

export interface SinkOptions {
  /** Keep every transaction as a file here (smtp-sink -d), to find duplicates afterwards. */
  dumpDir?: string;
}

export function startSink(host: string, port: number, options: SinkOptions = {}): Promise<Sink> {
  const dump: string[] = [];
  if (options.dumpDir) {
    mkdirSync(options.dumpDir, { recursive: true });
    chmodSync(options.dumpDir, 0o777); // smtp-sink writes as the postfix user
    dump.push('-d', join(options.dumpDir, '%H%M%S.'));
  }
  // -c prints "sess=N quit=N mesg=N" after every event; 1000 is the listen backlog.
  const child = spawn('smtp-sink', ['-u', 'postfix', ...dump, '-c', `${host}:${port}`, '1000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let count = 0;
  let waiters: Array<{ target: number; resolve: (at: number) => void }> = [];
  let tail = '';
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (text: string) => {
    tail = (tail + text).slice(-200);
    const matches = [...tail.matchAll(/mesg=(\d+)/g)];
    if (matches.length > 0) count = Number(matches[matches.length - 1][1]);
    const now = Date.now();
    waiters = waiters.filter((waiter) => (count >= waiter.target ? (waiter.resolve(now), false) : true));
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`smtp-sink exited (${code}): ${stderr}`)));
    // smtp-sink prints nothing when it is ready; it binds before it forks, so a short retry loop
    // on connect (in waitForBanner) is the readiness check the caller does.
    resolve({
      host,
      port,
      process: child,
      count: () => count,
      reach: (target) => new Promise((done) => (count >= target ? done(Date.now()) : waiters.push({ target, resolve: done }))),
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      },
    });
  });
}

export interface DumpSummary {
  transactions: number;
  /** Recipient deliveries: one per RCPT of every transaction. */
  deliveries: number;
  /** Distinct (Message-ID, recipient) pairs among them. */
  distinct: number;
}

/** Reads smtp-sink's dump files: how many deliveries, and how many of them were repeats. */
export function summariseDumps(dumpDir: string): DumpSummary {
  const seen = new Set<string>();
  let transactions = 0;
  let deliveries = 0;
  for (const name of readdirSync(dumpDir)) {
    // Only the head is needed: smtp-sink writes its X-Rcpt-Args lines, then the message headers.
    const text = readHead(join(dumpDir, name), 64 * 1024);
    const head = text.slice(0, text.indexOf('\n\n') >= 0 ? text.indexOf('\n\n') : text.length);
    const id = /^Message-Id:\s*(\S+)/im.exec(head)?.[1] ?? name;
    const recipients = [...head.matchAll(/^X-Rcpt-Args: <([^>]*)>/gm)].map((match) => match[1].toLowerCase());
    transactions++;
    for (const recipient of recipients) {
      deliveries++;
      seen.add(`${id} ${recipient}`);
    }
  }
  return { transactions, deliveries, distinct: seen.size };
}

function readHead(path: string, bytes: number): string {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    return buffer.subarray(0, readSync(fd, buffer, 0, bytes, 0)).toString('latin1');
  } finally {
    closeSync(fd);
  }
}
