/**
 * Start-up with a large queue: the system is started with N messages already queued (deferred, next
 * due in an hour). Figures: start to ready; how long a message submitted the moment it is ready
 * waits for its 250 (listing the queue must not block intake); when the whole queue is scheduled
 * again (mxkit); memory once it is (mxkit) or five seconds after start (Postfix, whose queue
 * manager scans in the background and has no such moment).
 *
 * mxkit's queue is written straight to its spool (spool-fixture.ts). Postfix's is made the only way
 * Postfix has: submitted by smtp-source while `defer_transports = smtp` keeps it queued.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from '../load-client';
import { metric } from '../mxkit';
import { freePort } from '../net';
import { treeRssKiB } from '../rss';
import { fillMxkitSpool } from '../spool-fixture';
import { startSystem, type RunningSystem, type SystemName } from '../systems';
import { RECIPIENT, SENDER, smtpSource } from '../throughput';

export interface StartupFigures {
  system: SystemName;
  queued: number;
  startToReadyMs: number;
  /** Connect to 250 for one message sent as soon as the system was ready. */
  firstAcceptMs: number;
  /** Start until every queued message is scheduled (mxkit; NaN for Postfix). */
  recoveredMs: number;
  pssMiB: number;
  /** How long making the queue took (not a figure of merit: the harness's own cost). */
  fillSeconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function firstAccept(system: RunningSystem): Promise<number> {
  const result = await runLoad({ host: '127.0.0.1', port: system.port, messages: 1, concurrency: 1, messageBytes: 5120, from: SENDER, to: RECIPIENT });
  return result.latenciesMs[0] ?? NaN;
}

export async function measureStartup(name: Extract<SystemName, 'mxkit' | 'postfix'>, queued: number): Promise<StartupFigures> {
  const root = mkdtempSync(join(tmpdir(), `bench-startup-${name}-`));
  // Nothing listens here: whatever a system tries to deliver meanwhile simply waits.
  const destination = { relay: { host: '127.0.0.3', port: await freePort('127.0.0.3') } };
  const ports = { smtp: await freePort(), http: await freePort() };
  const filling = Date.now();
  try {
    if (name === 'mxkit') {
      fillMxkitSpool(join(root, 'spool'), queued, SENDER, RECIPIENT);
    } else {
      const postfixExtra = ['defer_transports = smtp'];
      const filler = await startSystem(name, { root, destination, postfixExtra, ports });
      await smtpSource(filler.port, queued, 20);
      while ((await filler.queued()) < queued) await sleep(200);
      await filler.stop();
    }
    const fillSeconds = (Date.now() - filling) / 1000;
    // startSystem waits for a quiet machine first (filling the queue leaves the kernel writing it
    // out); when the queue is scheduled is timed from the start that follows.
    const system = await startSystem(name, { root, destination, ports, ...(name === 'postfix' ? { postfixExtra: ['defer_transports = smtp'] } : {}) });
    const started = system.startedAt;
    try {
      const firstAcceptMs = await firstAccept(system);
      let recoveredMs = NaN;
      if (name === 'mxkit') {
        while ((await metric(ports.http, 'mxkit_spool_recovering')) !== 0) await sleep(20);
        recoveredMs = Date.now() - started;
      } else {
        await sleep(Math.max(0, 5000 - (Date.now() - started)));
      }
      return { system: name, queued, startToReadyMs: system.startToReadyMs, firstAcceptMs, recoveredMs, pssMiB: treeRssKiB(system.pids()) / 1024, fillSeconds };
    } finally {
      await system.stop();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
