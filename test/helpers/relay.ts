/** Runs a real relay in-process on loopback port 0 with its own temp folder. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadRelay } from '../../relay/src/load-relay';
import type { RelayConfigInput } from '../../relay/src/config/schema';
import { hashPassword } from '../../relay/src/intake/password';
import { startRelay, type RelayOptions, type RunningRelay } from '../../relay/src/relay';
import { makeCertificate, type TestCertificate } from './tls';

export const HOSTNAME = 'mail.example.test';
export const PASSWORD = 'correct horse battery staple';

export interface TestRelay {
  relay: RunningRelay;
  dir: string;
  configPath: string;
  config: RelayConfigInput;
  certificate: TestCertificate;
  logs: string[];
  /** Resolves once a log line matches `pattern`. */
  waitForLog(pattern: RegExp): Promise<void>;
  port(listener: 'mx' | 'submission' | 'submissions' | 'http'): number;
  /** Resolves once the relay counts no open SMTP session (closing is asynchronous on its side). */
  waitForNoSessions(): Promise<void>;
  stop(): Promise<void>;
}

let cachedHash: Promise<string> | undefined;
export function passwordHash(): Promise<string> {
  cachedHash ??= hashPassword(PASSWORD);
  return cachedHash;
}

export function tempDir(prefix = 'mxkit-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes cert, key and config under a fresh folder and returns the config (not started). */
export async function writeRelayFiles(overrides: (config: RelayConfigInput, dir: string) => void = () => undefined) {
  const dir = tempDir();
  const certificate = await makeCertificate(HOSTNAME);
  writeFileSync(join(dir, 'tls.crt'), certificate.cert);
  writeFileSync(join(dir, 'tls.key'), certificate.key, { mode: 0o600 });
  mkdirSync(join(dir, 'spool'));
  const config: RelayConfigInput = {
    hostname: HOSTNAME,
    domains: ['example.test'],
    listen: {
      mx: { host: '127.0.0.1', port: 0 },
      submission: { host: '127.0.0.1', port: 0 },
      submissions: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
    },
    tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
    users: [{ username: 'app', passwordHash: await passwordHash(), allowedFrom: ['app@example.test', '*@app.example.test'] }],
    routes: [
      { match: 'postmaster@example.test', forward: ['ops@elsewhere.test'] },
      { match: 'info@example.test', forward: ['inbox@elsewhere.test'] },
    ],
    spoolDir: join(dir, 'spool'),
    // Delivery runs in every relay: point its DNS at a closed loopback port so tests that do not
    // set up a DNS world never query the system resolver (outside 127.0.0.0/8); their mail is
    // simply deferred and stays in the spool. Delivery tests override this block.
    delivery: { dnsServers: ['127.0.0.1:9'] },
    limits: { maxMessageBytes: 64 * 1024, maxRecipients: 5, maxConnectionsPerIp: 20, authFailuresPerIp: 3 },
  };
  overrides(config, dir);
  const configPath = join(dir, 'relay.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  return { dir, certificate, config, configPath };
}

export async function startTestRelay(
  overrides?: (config: RelayConfigInput, dir: string) => void,
  options: RelayOptions = { authFailureDelayMs: 50 },
): Promise<TestRelay> {
  const files = await writeRelayFiles(overrides);
  const logs: string[] = [];
  const watchers: Array<{ pattern: RegExp; resolve: () => void }> = [];
  const notify = () => {
    for (const watcher of [...watchers]) {
      if (logs.some((line) => watcher.pattern.test(line))) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve();
      }
    }
  };
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      notify();
      callback();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const relay = await startRelay(await loadRelay(files.configPath), logger, options);
  return {
    ...files,
    relay,
    logs,
    waitForLog: (pattern) =>
      new Promise<void>((resolve) => {
        watchers.push({ pattern, resolve });
        notify();
      }),
    port(listener) {
      const address = relay.addresses[listener];
      if (!address) throw new Error(`listener ${listener} is not running`);
      return address.port;
    },
    waitForNoSessions: async () => {
      for (;;) {
        const gauge = await relay.metrics.activeSessions.get();
        if (gauge.values.every((value) => value.value === 0)) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    stop: () => relay.shutdown(),
  };
}
