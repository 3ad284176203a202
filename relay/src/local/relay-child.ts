/**
 * Runs the relay exactly as production does: the same bundle (`mxkit relay --config FILE`) in its
 * own process, started with this Node.js binary. Its JSON log goes to a file in the state folder;
 * its "relay ready" line tells us the ports it bound (with --ports auto the kernel chose them).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { RELAY_NODE_OPTIONS } from '../ops/heap-mode';
import { LocalError } from './errors';

/** What the relay's ready line reports: one entry per configured listener (`https`: the MTA-STS policy). */
export type RelayAddresses = Partial<Record<'mx' | 'submission' | 'submissions' | 'http' | 'https', { address: string; port: number }>>;

export interface RelayChild {
  pid: number;
  addresses: RelayAddresses;
  /** Resolves with the exit code (or the signal's name) when the process is gone. */
  exited: Promise<string>;
  stop(): Promise<void>;
  /** SIGKILL, no drain. */
  kill(): void;
}

export interface RelayChildOptions {
  bundle: string;
  configPath: string;
  logPath: string;
  /** Longest wait after SIGTERM for the relay's graceful drain before SIGKILL. */
  stopGraceMs?: number;
  /** Each JSON log line the relay writes once it is ready (the terminal's delivery news). */
  onLogLine?: (line: Record<string, unknown>) => void;
}

interface LogLine {
  msg?: string;
  addresses?: RelayAddresses;
}

function parseLine(line: string): (LogLine & Record<string, unknown>) | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as LogLine & Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function startRelayChild(options: RelayChildOptions): Promise<RelayChild> {
  const log = createWriteStream(options.logPath, { flags: 'a', mode: 0o600 });
  const child = spawn(process.execPath, [...RELAY_NODE_OPTIONS, options.bundle, 'relay', '--config', options.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Last resort: if this process exits without stopping the relay (an uncaught error), the relay
  // must not live on holding the ports and the spool.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      process.off('exit', killOnExit);
      log.end();
      resolve(code !== null ? String(code) : (signal ?? 'unknown'));
    }),
  );
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  let stderrTail = '';
  child.stderr.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString()).slice(-2000)));

  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    // The relay lets open sessions finish; past the grace period a developer's Ctrl-C wins.
    const force = setTimeout(kill, options.stopGraceMs ?? 10_000);
    await exited;
    clearTimeout(force);
  };

  return new Promise((resolve, reject) => {
    let pending = '';
    let ready = false;
    const onData = (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const parsed = parseLine(line);
        if (!parsed) continue;
        if (ready) {
          options.onLogLine?.(parsed);
          continue;
        }
        if (parsed.msg !== 'relay ready') continue;
        ready = true;
        if (!options.onLogLine) child.stdout.off('data', onData);
        resolve({ pid: child.pid ?? -1, addresses: parsed.addresses ?? {}, exited, stop, kill });
      }
    };
    child.stdout.on('data', onData);
    child.once('error', (error) => reject(new LocalError(`cannot start the relay (${options.bundle}): ${error.message}`)));
    exited.then((code) => {
      // The relay prints one line ("mxkit: config error: listen.mx: 127.0.0.1:2525 is already in use").
      const reason = stderrTail.trim().split('\n').pop()?.replace(/^mxkit: (config error: )?/, '') || `exit ${code}`;
      const hint = /already in use/.test(reason) ? ' (another mxkit local? stop it or run with --ports auto)' : '';
      reject(new LocalError(`the relay did not start: ${reason}${hint}; its log is ${options.logPath}`));
    });
  });
}
