/**
 * When each queued message is next attempted. One timer per message (unref'ed, so a due time never
 * keeps the process alive), at most `concurrency` messages in progress, and never the same message
 * twice at once. `run` returns the next due time, or undefined when the message is finished.
 */
export type RunAttempt = (id: string) => Promise<number | undefined>;

interface Entry {
  dueAt: number;
  timer?: NodeJS.Timeout;
  running: boolean;
  /** Asked to run again while running (e.g. `queue retry`): run once more right after. */
  again: boolean;
}

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly ready: string[] = [];
  private inFlight = 0;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly run: RunAttempt,
    private readonly concurrency: number,
    private readonly onError: (id: string, error: unknown) => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** Schedules (or brings forward) a message's next attempt. */
  schedule(id: string, at = Date.now()): void {
    if (this.stopped) return;
    const entry = this.entries.get(id) ?? { dueAt: Infinity, running: false, again: false };
    this.entries.set(id, entry);
    if (entry.running) {
      if (at <= Date.now()) entry.again = true;
      return;
    }
    if (entry.timer && at >= entry.dueAt) return;
    clearTimeout(entry.timer);
    entry.dueAt = at;
    const delay = Math.max(0, at - Date.now());
    // setTimeout takes at most ~24.8 days; longer waits re-arm.
    entry.timer = setTimeout(() => this.due(id), Math.min(delay, 2 ** 31 - 1));
    entry.timer.unref();
  }

  forget(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    if (!entry.running) this.entries.delete(id);
  }

  private due(id: string): void {
    const entry = this.entries.get(id);
    if (!entry || this.stopped) return;
    entry.timer = undefined;
    if (entry.dueAt > Date.now()) return this.schedule(id, entry.dueAt);
    this.ready.push(id);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.inFlight < this.concurrency && this.ready.length > 0) {
      const id = this.ready.shift() as string;
      const entry = this.entries.get(id);
      if (!entry || entry.running) continue;
      entry.running = true;
      entry.again = false;
      this.inFlight++;
      void this.run(id)
        .catch((error: unknown) => Date.now() + this.onError(id, error))
        .then((next) => {
          this.inFlight--;
          entry.running = false;
          if (this.entries.get(id) !== entry) return;
          if (next === undefined) this.entries.delete(id);
          else {
            entry.dueAt = Infinity;
            this.schedule(id, entry.again ? Date.now() : next);
          }
        })
        .finally(() => {
          this.pump();
          if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
        });
    }
  }

  /** Stops starting attempts and waits for running ones (or the timeout). */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
    if (this.inFlight === 0) return;
    await Promise.race([
      new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
      new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }
}
