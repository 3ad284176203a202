/**
 * A destination outage: N messages are submitted while the destination refuses connections, so
 * all of them queue up and are retried; then the destination comes back. Figures: how long after
 * it came back every message had arrived, whether any arrived twice (smtp-sink keeps every
 * transaction; a repeat is a Message-ID and recipient seen twice), and peak memory meanwhile.
 * Both systems retry on the same schedule: first after `retry.firstS`, then every `retry.laterS`.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForBanner } from '../net';
import { samplePeakRss } from '../rss';
import { startSink, summariseDumps } from '../sink';
import { startSystem, type SystemName } from '../systems';
import { smtpSource, within } from '../throughput';

export interface OutageFigures {
  system: SystemName;
  messages: number;
  outageSeconds: number;
  /** Destination back until the last message arrived. */
  recoverySeconds: number;
  delivered: number;
  duplicates: number;
  peakPssMiB: number;
}

export interface OutageOptions {
  messages: number;
  retry: { firstS: number; laterS: number };
  /** Longest wait after recovery before calling the run incomplete. */
  timeoutMs: number;
}

export async function measureOutage(name: SystemName, options: OutageOptions): Promise<OutageFigures> {
  const root = mkdtempSync(join(tmpdir(), `bench-outage-${name}-`));
  chmodSync(root, 0o755); // smtp-sink writes its dumps below as the postfix user
  const sinkPort = await freePort('127.0.0.3');
  const system = await startSystem(name, { root, destination: { relay: { host: '127.0.0.3', port: sinkPort } }, retry: options.retry });
  const pss = samplePeakRss(system.pids);
  const down = Date.now();
  let sink: Awaited<ReturnType<typeof startSink>> | undefined;
  try {
    await smtpSource(system.port, options.messages, 20);
    // Let every message meet the refusal at least once (a first retry is then due for all of them).
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const dumpDir = join(root, 'arrived');
    sink = await startSink('127.0.0.3', sinkPort, { dumpDir });
    const back = Date.now();
    await waitForBanner('127.0.0.3', sinkPort);
    const arrivedAt = await within(sink.reach(options.messages), options.timeoutMs, NaN);
    // A repeat would come after the last first delivery: give stragglers a moment.
    while ((await system.queued()) > 0 && Date.now() - back < options.timeoutMs) await new Promise((resolve) => setTimeout(resolve, 200));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const arrived = summariseDumps(dumpDir);
    return {
      system: name,
      messages: options.messages,
      outageSeconds: (back - down) / 1000,
      recoverySeconds: (arrivedAt - back) / 1000,
      delivered: arrived.distinct,
      duplicates: arrived.deliveries - arrived.distinct,
      peakPssMiB: pss.stop(),
    };
  } finally {
    pss.stop();
    await system.stop();
    await sink?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
