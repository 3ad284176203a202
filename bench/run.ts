/**
 * `npm run bench`: mxkit against Postfix on this machine, in one run, with the same load
 * (smtp-source: N messages of 5 KB over 20 sessions, one recipient each) into the same
 * destination (smtp-sink). Alternates A/B over several runs and reports medians and spread.
 * `--quick` is the CI smoke: a few hundred messages, one run, fails only if a message is lost.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openIdleSessions, percentile, runLoad } from './load-client';
import { BUNDLE, startMxkit, writeMxkitConfig } from './mxkit';
import { freePort, waitForBanner } from './net';
import { startOpenDkim } from './opendkim';
import { startPostfix } from './postfix';
import { samplePeakRss, treeRssKiB } from './rss';
import { runMemoryBench } from './memory';
import { startSink } from './sink';

type SystemName = 'mxkit' | 'postfix';

interface Figures {
  acceptedPerSec: number;
  deliveredPerSec: number;
  p50Ms: number;
  p99Ms: number;
  peakRssMiB: number;
  idleRssMiB: number;
  startToReadyMs: number;
  delivered: number;
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const MESSAGES = option('messages', quick ? 300 : 10_000);
const RUNS = option('runs', quick ? 1 : 3);
const LATENCY_MESSAGES = option('latency-messages', quick ? 100 : 2000);
const IDLE_SESSIONS = option('idle', quick ? 50 : 1000);
const SESSIONS = 20;
const onlyIndex = args.indexOf('--only');
const SYSTEMS: SystemName[] = onlyIndex >= 0 ? [args[onlyIndex + 1] as SystemName] : ['mxkit', 'postfix'];
const SENDER = 'a@x.bench.test';
const RECIPIENT = 'b@y.bench.test';

function ensurePeers(): void {
  const missing = ['smtp-source', 'smtp-sink', 'postfix', 'opendkim'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  console.log(`installing postfix and opendkim (for ${missing.join(', ')}) from Debian, postfix preseeded to "No configuration"`);
  execFileSync('sh', ['-c', 'echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix opendkim'], { stdio: 'inherit' });
}

function smtpSource(port: number, messages: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('smtp-source', ['-s', String(SESSIONS), '-m', String(messages), '-l', '5120', '-f', SENDER, '-t', RECIPIENT, `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`smtp-source exited ${code}: ${stderr}`))));
  });
}

async function measure(system: SystemName): Promise<Figures> {
  const root = mkdtempSync(join(tmpdir(), `bench-${system}-`));
  const sinkPort = await freePort('127.0.0.3');
  const sink = await startSink('127.0.0.3', sinkPort);
  await waitForBanner('127.0.0.3', sinkPort);
  const port = await freePort();
  let pids: () => number[];
  let stop: () => Promise<void> | void;
  let startToReadyMs: number;
  if (system === 'mxkit') {
    const httpPort = await freePort();
    const config = await writeMxkitConfig(root, port, httpPort, { host: '127.0.0.3', port: sinkPort }, 'x.bench.test');
    const relay = await startMxkit(config, port, httpPort);
    pids = () => [relay.process.pid ?? -1];
    stop = relay.stop;
    startToReadyMs = relay.startToReadyMs;
  } else {
    const milter = await startOpenDkim(root, await freePort(), 'x.bench.test', 'bench');
    const started = Date.now();
    const postfix = await startPostfix(root, port, `[127.0.0.3]:${sinkPort}`, milter.port);
    startToReadyMs = Date.now() - started;
    // OpenDKIM's memory is part of what the baseline needs to do the same job.
    pids = () => [postfix.masterPid() ?? -1, milter.process.pid ?? -1];
    stop = () => {
      postfix.stop();
      milter.stop();
    };
  }
  try {
    const rss = samplePeakRss(pids);
    const began = Date.now();
    await smtpSource(port, MESSAGES);
    const acceptedAt = Date.now();
    const deliveredAt = await Promise.race([sink.reach(MESSAGES), new Promise<number>((resolve) => setTimeout(() => resolve(NaN), 600_000).unref())]);
    const peakRssMiB = rss.stop();
    const delivered = sink.count();
    const latency = await runLoad({ host: '127.0.0.1', port, messages: LATENCY_MESSAGES, concurrency: SESSIONS, messageBytes: 5120, from: SENDER, to: RECIPIENT });
    const closeIdle = await openIdleSessions('127.0.0.1', port, IDLE_SESSIONS);
    const idleRssMiB = treeRssKiB(pids()) / 1024;
    closeIdle();
    return {
      acceptedPerSec: MESSAGES / ((acceptedAt - began) / 1000),
      deliveredPerSec: MESSAGES / ((deliveredAt - began) / 1000),
      p50Ms: percentile(latency.latenciesMs, 50),
      p99Ms: percentile(latency.latenciesMs, 99),
      peakRssMiB,
      idleRssMiB,
      startToReadyMs,
      delivered: Math.min(delivered, MESSAGES),
    };
  } finally {
    await stop();
    sink.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

const median = (values: number[]) => percentile(values, 50);
const spread = (values: number[]) => {
  const finite = values.filter(Number.isFinite);
  const mid = median(finite);
  return finite.length > 1 && mid ? `±${Math.round(((Math.max(...finite) - Math.min(...finite)) / 2 / mid) * 100)}%` : '';
};

async function main(): Promise<void> {
  ensurePeers();
  if (!existsSync(BUNDLE)) throw new Error('dist/mxkit.js is missing: run npm run build');
  if (args.includes('--memory')) {
    const ok = await runMemoryBench({
      sessions: option('sessions', quick ? 10 : 100),
      megabytes: option('megabytes', quick ? 5 : 20),
      cgroupSessions: option('cgroup-sessions', quick ? 4 : 40),
      cgroupMiB: option('cgroup-mib', 2048),
      postfix: !args.includes('--no-postfix'),
      ...(args.includes('--in-flight-mib') ? { inFlightBytes: option('in-flight-mib', 1024) * 1024 * 1024 } : {}),
    });
    if (!ok) process.exitCode = 1;
    return;
  }
  const results: Record<SystemName, Figures[]> = { mxkit: [], postfix: [] };
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse();
    for (const system of order) {
      const figures = await measure(system);
      results[system].push(figures);
      console.log(`run ${run + 1} ${system}: ${JSON.stringify(figures, (_key, value: unknown) => (typeof value === 'number' ? Math.round(value * 10) / 10 : value))}`);
    }
  }
  const rows: Array<[string, keyof Figures, string]> = [
    ['accepted msgs/s', 'acceptedPerSec', 'higher is better'],
    ['delivered msgs/s (end to end)', 'deliveredPerSec', 'higher is better'],
    ['accept latency p50 (ms)', 'p50Ms', 'lower is better'],
    ['accept latency p99 (ms)', 'p99Ms', 'lower is better'],
    ['peak memory (PSS) under load (MiB)', 'peakRssMiB', 'lower is better'],
    [`memory (PSS) with ${IDLE_SESSIONS} idle sessions (MiB)`, 'idleRssMiB', 'lower is better'],
    ['start to ready (ms)', 'startToReadyMs', 'lower is better'],
  ];
  console.log(`\n${MESSAGES} messages of 5 KB, ${SESSIONS} sessions, ${RUNS} run(s) alternating A/B; medians (± half the min-max spread)\n`);
  console.log('| figure | mxkit | Postfix | mxkit/Postfix |\n|---|---|---|---|');
  for (const [label, key] of rows) {
    const a = results.mxkit.map((figures) => figures[key]);
    const b = results.postfix.map((figures) => figures[key]);
    console.log(`| ${label} | ${median(a).toFixed(1)} ${spread(a)} | ${median(b).toFixed(1)} ${spread(b)} | ${(median(a) / median(b)).toFixed(2)} |`);
  }
  console.log(`| bundle size (KiB) | ${Math.round(statSync(BUNDLE).size / 1024)} | n/a | |`);
  const lost = SYSTEMS.flatMap((system) => results[system].filter((figures) => figures.delivered < MESSAGES).map(() => system));
  if (lost.length > 0) {
    console.error(`FAILED: not every message reached the sink (${lost.join(', ')})`);
    process.exitCode = 1;
  } else {
    console.log(`\nevery message delivered by both systems (${MESSAGES} x ${RUNS} each)`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
