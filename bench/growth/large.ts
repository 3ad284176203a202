/**
 * Large messages: N messages of S bytes (smtp-source, 10 sessions) through the system to the sink.
 * Figures: MB/s end to end (first connection until the sink has them all) and peak memory. A
 * relay that holds each message whole in memory more than once shows it here as peak memory
 * growing with S times the messages in flight.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForBanner } from '../net';
import { samplePeakRss } from '../rss';
import { startSink } from '../sink';
import { startSystem, type SystemName } from '../systems';
import { smtpSource, within } from '../throughput';

export interface LargeFigures {
  system: SystemName;
  messages: number;
  megabytes: number;
  megabytesPerSec: number;
  peakPssMiB: number;
  delivered: number;
}

export async function measureLarge(name: SystemName, messages: number, bytes: number, timeoutMs: number): Promise<LargeFigures> {
  const root = mkdtempSync(join(tmpdir(), `bench-large-${name}-`));
  const sinkPort = await freePort('127.0.0.3');
  const sink = await startSink('127.0.0.3', sinkPort);
  await waitForBanner('127.0.0.3', sinkPort);
  // Postfix's default message_size_limit (10,240,000 bytes) is below a 10 MiB message with headers.
  const system = await startSystem(name, { root, destination: { relay: { host: '127.0.0.3', port: sinkPort } }, postfixExtra: ['message_size_limit = 26214400'] });
  try {
    const pss = samplePeakRss(system.pids);
    const began = Date.now();
    await smtpSource(system.port, messages, 10, bytes);
    const doneAt = await within(sink.reach(messages), timeoutMs, NaN);
    return {
      system: name,
      messages,
      megabytes: bytes / 1e6,
      megabytesPerSec: (messages * bytes) / 1e6 / ((doneAt - began) / 1000),
      peakPssMiB: pss.stop(),
      delivered: Math.min(sink.count(), messages),
    };
  } finally {
    await system.stop();
    await sink.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
