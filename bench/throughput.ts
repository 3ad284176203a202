/**
 * The throughput figures: smtp-source (N messages of 5 KB over 20 sessions, one recipient each,
 * one connection per message) into a system that relays to smtp-sink; then accept latency from our
 * own load client, and memory with idle sessions open.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyPercent, coreTimes, harnessCpuMs, treeCpuMs } from './cpu';
import { openIdleSessions, runLoad } from './load-client';
import { freePort, waitForBanner } from './net';
import { samplePeakRss, treeRssKiB } from './rss';
import { startSink } from './sink';
import { percentile } from './stats';
import { SENDER_DOMAIN, startSystem, type SystemName } from './systems';

export interface ThroughputOptions {
  messages: number;
  latencyMessages: number;
  idleSessions: number;
  sessions: number;
}

export interface ThroughputFigures {
  acceptedPerSec: number;
  deliveredPerSec: number;
  p50Ms: number;
  p99Ms: number;
  peakPssMiB: number;
  idlePssMiB: number;
  startToReadyMs: number;
  /** CPU time of the system's processes per message, from the first connect to the last delivery. */
  cpuMsPerMessage: number;
  /** The same for smtp-source, smtp-sink and the bench itself: the load's own cost on the same cores. */
  harnessCpuMsPerMessage: number;
  /** How busy both cores were over the same span (100 = saturated: speed then follows CPU per message). */
  coresBusyPercent: number;
  delivered: number;
}

export const SENDER = `a@${SENDER_DOMAIN}`;
export const RECIPIENT = 'b@y.bench.test';
/** Longest wait for the sink to count everything before a run is called incomplete. */
const DELIVERY_TIMEOUT_MS = 600_000;

/** smtp-source with 5 KB messages (or `bytes`), resolving when every message was answered. */
export function smtpSource(port: number, messages: number, sessions: number, bytes = 5120): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('smtp-source', ['-s', String(sessions), '-m', String(messages), '-l', String(bytes), '-f', SENDER, '-t', RECIPIENT, `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`smtp-source exited ${code}: ${stderr}`))));
  });
}

export function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return Promise.race([promise, new Promise<T>((resolve) => setTimeout(() => resolve(fallback), ms).unref())]);
}

export async function measureThroughput(name: SystemName, options: ThroughputOptions): Promise<ThroughputFigures> {
  const root = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const sinkPort = await freePort('127.0.0.3');
  const sink = await startSink('127.0.0.3', sinkPort);
  await waitForBanner('127.0.0.3', sinkPort);
  const system = await startSystem(name, { root, destination: { relay: { host: '127.0.0.3', port: sinkPort } } });
  try {
    const pss = samplePeakRss(system.pids);
    const sinkPid = sink.process.pid ?? 0;
    const cpuBefore = treeCpuMs(system.pids());
    const harnessBefore = harnessCpuMs([sinkPid]);
    const coresBefore = coreTimes();
    const began = Date.now();
    await smtpSource(system.port, options.messages, options.sessions);
    const acceptedAt = Date.now();
    const deliveredAt = await within(sink.reach(options.messages), DELIVERY_TIMEOUT_MS, NaN);
    const cpuMsPerMessage = (treeCpuMs(system.pids()) - cpuBefore) / options.messages;
    const harnessCpuMsPerMessage = (harnessCpuMs([sinkPid]) - harnessBefore) / options.messages;
    const coresBusy = busyPercent(coresBefore, coreTimes());
    const peakPssMiB = pss.stop();
    const delivered = sink.count();
    const latency = await runLoad({ host: '127.0.0.1', port: system.port, messages: options.latencyMessages, concurrency: options.sessions, messageBytes: 5120, from: SENDER, to: RECIPIENT });
    const closeIdle = await openIdleSessions('127.0.0.1', system.port, options.idleSessions);
    const idlePssMiB = treeRssKiB(system.pids()) / 1024;
    closeIdle();
    return {
      acceptedPerSec: options.messages / ((acceptedAt - began) / 1000),
      deliveredPerSec: options.messages / ((deliveredAt - began) / 1000),
      p50Ms: percentile(latency.latenciesMs, 50),
      p99Ms: percentile(latency.latenciesMs, 99),
      peakPssMiB,
      idlePssMiB,
      startToReadyMs: system.startToReadyMs,
      cpuMsPerMessage,
      harnessCpuMsPerMessage,
      coresBusyPercent: coresBusy,
      delivered: Math.min(delivered, options.messages),
    };
  } finally {
    await system.stop();
    await sink.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
