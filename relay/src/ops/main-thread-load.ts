/**
 * How busy the main thread's event loop is: its utilisation (perf_hooks `eventLoopUtilization`,
 * the share of the time the loop was running callbacks rather than waiting for I/O) over the last
 * sample, taken at most every SAMPLE_MS and only when asked. Delivery asks it whether a burst of
 * incoming mail saturates the main thread (delivery/intake-first.ts).
 */
import { performance } from 'node:perf_hooks';

export const SAMPLE_MS = 250;

/** The event loop's utilisation between successive calls (0..1). */
export function eventLoopUtilisationMeter(): () => number {
  let previous = performance.eventLoopUtilization();
  return () => {
    const current = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(current, previous);
    previous = current;
    return delta.utilization;
  };
}

/** What intake first asks of the main thread's load (delivery/intake-first.ts); tests give their own. */
export interface LoadMeter {
  /** The utilisation (0..1) over the last sample, or undefined when there is no recent one. */
  utilisation(now: number): number | undefined;
  /** When the answer can next change. */
  nextSampleAt(): number;
}

export class MainThreadLoad implements LoadMeter {
  private sampledAt = -Infinity;
  private current: number | undefined;

  constructor(
    private readonly measure: () => number = eventLoopUtilisationMeter(),
    readonly sampleMs = SAMPLE_MS,
  ) {}

  /**
   * The utilisation over the last sample; undefined when nobody asked for a while, since a sample
   * that spans a quiet spell says nothing about now (that call only restarts the meter).
   */
  utilisation(now: number): number | undefined {
    if (now - this.sampledAt >= this.sampleMs) {
      const fresh = now - this.sampledAt < 2 * this.sampleMs;
      const value = this.measure();
      this.current = fresh ? value : undefined;
      this.sampledAt = now;
    }
    return this.current;
  }

  /** When `utilisation` next takes a sample (until then it answers the last one). */
  nextSampleAt(): number {
    return this.sampledAt + this.sampleMs;
  }
}
