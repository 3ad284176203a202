/** Runs the built bundle (`dist/mxkit.js relay`) as a child process, as production does. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { RELAY_NODE_OPTIONS } from '../../relay/src/ops/heap-mode';

export const BUNDLE = join(__dirname, '..', '..', 'dist', 'mxkit.js');

export interface ChildRelay {
  process: ChildProcess;
  ports: Record<string, number>;
  output: () => string;
  /** Resolves once the relay's output (stdout + stderr) matches `pattern`. */
  waitFor: (pattern: RegExp) => Promise<void>;
  exited: Promise<number | null>;
}

interface ReadyLine {
  msg?: string;
  addresses?: Record<string, { port: number }>;
}

/**
 * Starts the relay and resolves once it logs "relay ready" (with the bound ports). It runs with the
 * node options every real start uses (RELAY_NODE_OPTIONS) unless `relayNodeOptions` says otherwise,
 * from dist/mxkit.js unless `bundle` names a copy.
 */
export function startChildRelay(configPath: string, nodeArgs: readonly string[] = [], relayNodeOptions: readonly string[] = RELAY_NODE_OPTIONS, bundle = BUNDLE): Promise<ChildRelay> {
  const child = spawn(process.execPath, [...relayNodeOptions, ...nodeArgs, bundle, 'relay', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const watchers: Array<{ pattern: RegExp; resolve: () => void }> = [];
  const notify = () => {
    for (const watcher of [...watchers]) {
      if (watcher.pattern.test(output)) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve();
      }
    }
  };
  const waitFor = (pattern: RegExp) =>
    new Promise<void>((resolve) => {
      watchers.push({ pattern, resolve });
      notify();
    });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.includes('"relay ready"')) continue;
        const ready = JSON.parse(line) as ReadyLine;
        const ports = Object.fromEntries(Object.entries(ready.addresses ?? {}).map(([name, address]) => [name, address.port]));
        child.stdout.off('data', onData);
        child.stdout.on('data', (more: Buffer) => {
          output += more.toString();
          notify();
        });
        resolve({ process: child, ports, output: () => output, waitFor, exited });
        return;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited.then((code) => reject(new Error(`relay exited with ${code} before it was ready:\n${output}`)));
  });
}
