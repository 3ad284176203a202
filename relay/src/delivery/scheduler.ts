/**
 * When each queued message is next attempted: at most `concurrency` messages in progress, never
 * the same message twice at once, earliest due first. `run` returns the next due time, or
 * undefined when the message is finished.
 *
 * Due times live in one binary heap with one timer for the earliest, so the cost per queued
 * message is a map entry and a heap slot -- not a timer each: a relay restarted with 100,000
 * queued messages schedules them all without 100,000 timers (docs/benchmarks.md, start-up).
 */
import { DueHeap } from './due-heap';
import type { AttemptHold } from './intake-first';

export type RunAttempt = (id: string) => Promise<number | undefined>;

interface Entry {
  /** When it is due (Infinity: not waiting, e.g. running). */
  dueAt: number;
  running: boolean;
  /** Asked to run again while running (e.g. `queue retry`): run once more right after. */
  again: boolean;
}

/** setTimeout takes at most ~24.8 days; longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly due = new DueHeap();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private inFlight = 0;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly run: RunAttempt,
    private readonly concurrency: number,
    private readonly onError: (id: string, error: unknown) => number,
    private readonly now: () => number = Date.now,
    /** Asked before each start; a held attempt stays first in line (intake-first.ts). */
    private readonly hold?: AttemptHold,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** Schedules (or brings forward) a message's next attempt. */
  schedule(id: string, at = this.now()): void {
    if (this.stopped) return;
    const entry = this.entries.get(id) ?? { dueAt: Infinity, running: false, again: false };
    this.entries.set(id, entry);
    if (entry.running) {
      if (at <= this.now()) entry.again = true;
      return;
    }
    if (at >= entry.dueAt) return;
    entry.dueAt = at;
    // The earlier slot of this id in the heap (if any) is now stale; pump() skips it.
    this.due.push(at, id);
    this.pump();
  }

  forget(id: string): void {
    const entry = this.entries.get(id);
    if (entry && !entry.running) this.entries.delete(id);
  }

  private pump(): void {
    const now = this.now();
    while (!this.stopped && this.inFlight < this.concurrency) {
      const next = this.due.peek();
      if (!next) break;
      const entry = this.entries.get(next.id);
      if (!entry || entry.running || entry.dueAt !== next.at) {
        this.due.pop(); // stale: forgotten, running, or moved to another time
        continue;
      }
      if (next.at > now) break;
      if (this.hold?.holds(next.at, now)) {
        // Due in order, so every later one waits too; look again when the hold may be over.
        this.hold.holding?.(true, now);
        this.arm(this.hold.recheckAt(next.at, now));
        return;
      }
      this.due.pop();
      this.start(next.id, entry);
    }
    // Whatever stopped the loop (nothing due, no room, stopped), no attempt waits on the hold now.
    this.hold?.holding?.(false, now);
    this.arm();
  }

  /**
   * One timer, for the earliest due time (or `heldUntil`, when the first due attempt is held),
   * and only while there is room to start something.
   */
  private arm(heldUntil?: number): void {
    const next = this.due.peek();
    const at = this.stopped || this.inFlight >= this.concurrency || !next ? Infinity : (heldUntil ?? next.at);
    if (at === this.timerAt) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
    }, Math.min(Math.max(0, at - this.now()), MAX_TIMER_MS));
    // A due time never keeps the process alive.
    this.timer.unref();
  }

  private start(id: string, entry: Entry): void {
    entry.running = true;
    entry.again = false;
    entry.dueAt = Infinity;
    this.inFlight++;
    void this.run(id)
      .catch((error: unknown) => this.now() + this.onError(id, error))
      .then((next) => {
        this.inFlight--;
        entry.running = false;
        if (this.entries.get(id) !== entry) return;
        if (next === undefined) this.entries.delete(id);
        else this.schedule(id, entry.again ? this.now() : next);
      })
      .finally(() => {
        this.pump();
        if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
      });
  }

  /** Stops starting attempts and waits for running ones (or the timeout). */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    this.hold?.holding?.(false, this.now());
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.inFlight === 0) return;
    await Promise.race([
      new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
      new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }
}
