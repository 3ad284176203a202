/**
 * Intake first: while a burst of incoming mail keeps the relay's main thread saturated, new
 * delivery attempts wait, so the CPU serves the senders and their messages are taken in (and made
 * durable) sooner; delivery catches up when the burst ends. Postfix behaves the same way by
 * construction -- its smtpd processes take mail into the queue while the queue manager's
 * deliveries lag -- and on the bench's two cores this is what lets intake run ahead of delivery
 * (docs/benchmarks.md, round 6: intake alone takes ~1,050 msgs/s; intake and delivery together
 * ~600, and together they cost more CPU per message than the two phases apart).
 *
 * Bounded so that it cannot starve delivery or delay mail on a relay that keeps up:
 * - "saturated" needs both a burst (at least BURST_ARRIVALS messages taken in during the last
 *   second) and a busy main thread (event-loop utilisation of at least BUSY_UTILISATION over the
 *   last sample, ops/main-thread-load.ts): a steady stream the relay handles easily never waits;
 * - no attempt waits more than MAX_HOLD_MS past its due time: under overload that outlasts it,
 *   delivery runs at the arrival rate, MAX_HOLD_MS behind.
 */
import { MainThreadLoad, type LoadMeter } from '../ops/main-thread-load';

export const BURST_ARRIVALS = 50;
export const BUSY_UTILISATION = 0.5;
export const MAX_HOLD_MS = 30_000;

/** What the scheduler asks before it starts an attempt (scheduler.ts). */
export interface AttemptHold {
  /** Whether an attempt due at `dueAt` should wait at `now`. */
  holds(dueAt: number, now: number): boolean;
  /** When to ask again about an attempt held at `now`. */
  recheckAt(dueAt: number, now: number): number;
  /**
   * Told when the first due attempt starts waiting on this hold (`held` true) and when nothing
   * waits on it any more (false): it started, was removed, or the scheduler stopped.
   */
  holding?(held: boolean, now: number): void;
}

/** A hold that began or ended (for the relay's metrics). */
export type HoldChange = { held: true } | { held: false; heldMs: number };

export interface IntakeFirstOptions {
  burstArrivals?: number;
  busyUtilisation?: number;
  maxHoldMs?: number;
  /** The main thread's load (a test gives its own). */
  load?: LoadMeter;
  /** Told when a hold begins and ends, with how long it lasted. */
  onChange?: (change: HoldChange) => void;
}

export class IntakeFirst implements AttemptHold {
  private readonly burstArrivals: number;
  private readonly busyUtilisation: number;
  private readonly maxHoldMs: number;
  private readonly load: LoadMeter;
  /** The last `burstArrivals` arrival times, oldest at `next` once the ring is full. */
  private readonly arrivals: number[] = [];
  private next = 0;
  /** When the current hold began; undefined while nothing is held. */
  private heldSince: number | undefined;
  private readonly onChange: ((change: HoldChange) => void) | undefined;

  constructor(options: IntakeFirstOptions = {}) {
    this.burstArrivals = options.burstArrivals ?? BURST_ARRIVALS;
    this.busyUtilisation = options.busyUtilisation ?? BUSY_UTILISATION;
    this.maxHoldMs = options.maxHoldMs ?? MAX_HOLD_MS;
    this.load = options.load ?? new MainThreadLoad();
    this.onChange = options.onChange;
  }

  /** A message was taken in by a listener (not one the relay made itself). */
  noteArrival(now: number): void {
    if (this.arrivals.length < this.burstArrivals) this.arrivals.push(now);
    else this.arrivals[this.next] = now;
    this.next = (this.next + 1) % this.burstArrivals;
  }

  holds(dueAt: number, now: number): boolean {
    if (now - dueAt >= this.maxHoldMs) return false;
    if (!this.inBurst(now)) return false;
    return (this.load.utilisation(now) ?? 0) >= this.busyUtilisation;
  }

  /**
   * At the load's next sample, which is when its answer can change: the same time for every
   * arrival within one sample, so the scheduler's timer is not set again for each message taken in.
   */
  recheckAt(dueAt: number, now: number): number {
    return Math.min(dueAt + this.maxHoldMs, Math.max(now, this.load.nextSampleAt()));
  }

  holding(held: boolean, now: number): void {
    if (held && this.heldSince === undefined) {
      this.heldSince = now;
      this.onChange?.({ held: true });
    } else if (!held && this.heldSince !== undefined) {
      const heldMs = Math.max(0, now - this.heldSince);
      this.heldSince = undefined;
      this.onChange?.({ held: false, heldMs });
    }
  }

  /** At least `burstArrivals` messages arrived within the last second. */
  private inBurst(now: number): boolean {
    if (this.arrivals.length < this.burstArrivals) return false;
    return now - this.arrivals[this.next] < 1000;
  }
}
