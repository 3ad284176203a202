/**
 * The three systems every figure compares, started the same way for every scenario:
 * - `mxkit`: the bundle, DKIM-signing every message in-process;
 * - `postfix-dkim`: Postfix with OpenDKIM as its signing milter (the same job as mxkit);
 * - `postfix`: Postfix without DKIM (less work than mxkit does: the bar to beat on speed).
 */
import { untilQuiet } from './cpu';
import { freePort } from './net';
import { metric, startMxkit, writeMxkitConfig } from './mxkit';
import { startOpenDkim, type OpenDkim } from './opendkim';
import { postfixQueued, startPostfix } from './postfix';

export type SystemName = 'mxkit' | 'postfix-dkim' | 'postfix';
export const SYSTEMS: readonly SystemName[] = ['mxkit', 'postfix-dkim', 'postfix'];
export const LABELS: Record<SystemName, string> = { mxkit: 'mxkit (signing)', 'postfix-dkim': 'Postfix + OpenDKIM', postfix: 'Postfix without DKIM' };

export const SENDER_DOMAIN = 'x.bench.test';

export interface Destination {
  /** Everything to one relay host (mxkit smarthost, Postfix relayhost). */
  relay?: { host: string; port: number };
  /**
   * Per destination domain (MX delivery): mxkit asks the bench DNS server for each domain's MX;
   * Postfix gets the same answers as a transport map (its DNS lookups are off on loopback).
   */
  domains?: { dnsServer: string; port: number; hosts: ReadonlyMap<string, string> };
}

export interface SystemSettings {
  /** Working folder; a second start in the same folder finds the same spool or queue. */
  root: string;
  destination: Destination;
  /** Retry after a temporary failure: first after `firstS`, then every `laterS` (outage scenario). */
  retry?: { firstS: number; laterS: number };
  /** Postfix only: main.cf lines added (mxkit has its own knobs through `settings`). */
  postfixExtra?: readonly string[];
  /** Keep intake ports when restarting in the same folder. */
  ports?: { smtp: number; http: number };
}

export interface RunningSystem {
  name: SystemName;
  port: number;
  startToReadyMs: number;
  /** When the start began (Date.now()), after the wait for a quiet machine. */
  startedAt: number;
  /** The processes whose memory counts (the relay; Postfix's master and children, OpenDKIM). */
  pids(): number[];
  /** Messages still queued. */
  queued(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSystem(name: SystemName, settings: SystemSettings): Promise<RunningSystem> {
  await untilQuiet();
  const startedAt = Date.now();
  const port = settings.ports?.smtp ?? (await freePort());
  if (name === 'mxkit') {
    const httpPort = settings.ports?.http ?? (await freePort());
    const { relay, domains } = settings.destination;
    const config = await writeMxkitConfig(settings.root, {
      port,
      httpPort,
      senderDomain: SENDER_DOMAIN,
      destination: { ...(relay ? { smarthost: relay } : {}), ...(domains ? { mx: { dnsServer: domains.dnsServer, port: domains.port } } : {}) },
      ...(settings.retry ? { retrySchedule: [`${settings.retry.firstS}s`, `${settings.retry.laterS}s`] } : {}),
    });
    // MXKIT_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR": profile the relay under the bench's load
    // (Node refuses --cpu-prof in NODE_OPTIONS). docs/benchmarks.md "Method".
    const nodeArgs = (process.env.MXKIT_BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
    const relayProcess = await startMxkit(config, port, httpPort, nodeArgs);
    return {
      name,
      port,
      startToReadyMs: relayProcess.startToReadyMs,
      startedAt,
      pids: () => [relayProcess.process.pid ?? -1],
      queued: () => metric(httpPort, 'mxkit_spool_messages'),
      stop: relayProcess.stop,
    };
  }
  let milter: OpenDkim | undefined;
  if (name === 'postfix-dkim') milter = await startOpenDkim(settings.root, await freePort(), SENDER_DOMAIN, 'bench');
  const { relay, domains } = settings.destination;
  const extra = [
    ...(domains ? [`transport_maps = inline:{ ${[...domains.hosts].map(([domain, host]) => `${domain}=smtp:[${host}]:${domains.port}`).join(', ')} }`] : []),
    ...(settings.retry
      ? [`minimal_backoff_time = ${settings.retry.firstS}s`, `maximal_backoff_time = ${settings.retry.laterS}s`, `queue_run_delay = ${settings.retry.firstS}s`]
      : []),
    ...(settings.postfixExtra ?? []),
  ];
  const started = Date.now();
  const postfix = await startPostfix(settings.root, port, relay ? `[${relay.host}]:${relay.port}` : '', milter?.port, extra);
  const startToReadyMs = Date.now() - started;
  return {
    name,
    port,
    startToReadyMs,
    startedAt,
    // OpenDKIM's memory is part of what the baseline needs to do the same job.
    pids: () => [postfix.masterPid() ?? -1, ...(milter ? [milter.process.pid ?? -1] : [])],
    queued: () => Promise.resolve(postfixQueued(settings.root)),
    stop: async () => {
      await postfix.stop();
      await milter?.stop();
    },
  };
}
