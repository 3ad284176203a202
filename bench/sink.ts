/** Postfix's smtp-sink as the destination of both systems, counting what arrives. */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Sink {
  host: string;
  port: number;
  process: ChildProcess;
  /** Messages the sink has accepted so far. */
  count(): number;
  /** Resolves with the time (ms since epoch) at which the count reached `target`. */
  reach(target: number): Promise<number>;
  stop(): void;
}

export function startSink(host: string, port: number): Promise<Sink> {
  // -c prints "sess=N quit=N mesg=N" after every event; 1000 is the listen backlog.
  const child = spawn('smtp-sink', ['-u', 'postfix', '-c', `${host}:${port}`, '1000'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      stop: () => child.kill('SIGTERM'),
    });
  });
}
