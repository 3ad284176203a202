/**
 * `mxkit check` against `mxkit local` (both from the bundle): the issue asks for "all pass".
 *
 * KNOWN GAP (issue 5's `mxkit local`, not the checks): local's DNS does not serve reverse DNS
 * (1.0.0.127.in-addr.arpa PTR mail.example.test) and publishes an `_mta-sts` TXT record without
 * serving the policy over HTTPS (nor listing an https port in endpoints.json); it publishes no CAA
 * (a warn only). endpoints.json also has no `submissions` port, so it is read from the banner.
 * The first test pins exactly those gaps; the second (`test.failing`) is the issue's "all pass"
 * and turns red — drop `.failing` then — once local closes them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import type { CheckReport } from '../../relay/src/check/types';
import { BUNDLE } from '../helpers/child-relay';
import { tempDir } from '../helpers/relay';
import { run } from '../helpers/run';
import { closedPort } from './world';

interface Endpoints {
  mx: { host: string; port: number };
  submission: { host: string; port: number };
  submissions?: { host: string; port: number };
  dns: { host: string; port: number };
}

let local: ChildProcess;
let report: CheckReport;
let exitCode: number | null;

/** Starts `mxkit local --ports auto`; resolves with its output so far once endpoints.json exists. */
function startLocal(state: string): Promise<string> {
  local = spawn(process.execPath, [BUNDLE, 'local', '--state', state, '--ports', 'auto'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => (output += chunk.toString());
  local.stdout?.on('data', collect);
  local.stderr?.on('data', collect);
  const exited = new Promise<never>((_resolve, reject) => local.on('exit', (code) => reject(new Error(`mxkit local exited with ${code}:\n${output}`))));
  // endpoints.json is written after the banner is printed.
  return Promise.race([fileAppears(state, 'endpoints.json').then(() => output), exited]);
}

/** Resolves once `dir/name` exists: local writes endpoints.json last, when everything is up. */
function fileAppears(dir: string, name: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(dir, () => {
      if (!existsSync(join(dir, name))) return;
      watcher.close();
      resolve();
    });
    if (existsSync(join(dir, name))) {
      watcher.close();
      resolve();
    }
  });
}

beforeAll(async () => {
  const state = tempDir('mxkit-check-local-');
  const banner = await startLocal(state);
  const endpoints = JSON.parse(readFileSync(join(state, 'endpoints.json'), 'utf8')) as Endpoints;
  const submissions = endpoints.submissions?.port ?? Number(/submissions [\d.]+:(\d+)/.exec(banner)?.[1]);
  const result = await run(process.execPath, [
    BUNDLE, 'check', '--json',
    '--domain', 'example.test',
    '--dns-server', `${endpoints.dns.host}:${endpoints.dns.port}`,
    '--smtp-port', String(endpoints.mx.port),
    '--submission-port', String(endpoints.submission.port),
    '--submissions-port', String(submissions),
    '--ca', join(state, 'tls.crt'),
    '--closed-ports', String(await closedPort()),
    // Offline: no blocklist can be asked through local's DNS (it would be "not checked", a warn).
    '--dnsbl', 'none',
  ]);
  if (result.stdout === '') throw new Error(`mxkit check printed nothing: ${result.stderr}`);
  exitCode = result.code;
  report = JSON.parse(result.stdout) as CheckReport;
});

afterAll(async () => {
  const exited = new Promise((resolve) => local.once('exit', resolve));
  local.kill('SIGTERM');
  await exited;
});

const problems = () => report.checks.filter((c) => c.status !== 'pass').map((c) => [c.id, c.status]);

describe('mxkit check against mxkit local', () => {
  test('every check passes except local’s known gaps: PTR, MTA-STS policy (fail) and CAA (warn)', () => {
    expect(problems()).toEqual([
      ['dns.ptr.127.0.0.1', 'fail'],
      ['dns.mta-sts-policy', 'fail'],
      ['dns.caa', 'warn'],
    ]);
    expect(report.checks.find((c) => c.id === 'service.open-relay.127.0.0.1')?.status).toBe('pass');
    expect(exitCode).toBe(1);
  });

  test.failing('every check passes (issue 8) — KNOWN GAP in mxkit local, see the top of this file', () => {
    expect(problems()).toEqual([]);
    expect(exitCode).toBe(0);
  });
});
