/**
 * Per-IP throttle for failed AUTH attempts: each failure is answered only after a delay, and an IP
 * with `limit` failures inside `window` is refused (421) until its failures age out. A successful
 * login does not clear them: otherwise one valid account would let its holder guess another's
 * password without limit by logging in between guesses.
 */
export interface AuthThrottleOptions {
  limit: number;
  windowMs: number;
  failureDelayMs: number;
}

/** Addresses remembered at most (the oldest forgotten first), so a guesser with many addresses is no memory leak. */
const ADDRESSES_MAX = 100_000;

export class AuthThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly options: AuthThrottleOptions) {}

  private recent(ip: string, now: number): number[] {
    const list = (this.failures.get(ip) ?? []).filter((at) => now - at < this.options.windowMs);
    if (list.length === 0) this.failures.delete(ip);
    else this.failures.set(ip, list);
    return list;
  }

  isBlocked(ip: string, now = Date.now()): boolean {
    return this.recent(ip, now).length >= this.options.limit;
  }

  /** Records a failure and resolves after the delay that failure earns. */
  async recordFailure(ip: string, now = Date.now()): Promise<void> {
    const list = this.recent(ip, now);
    list.push(now);
    if (!this.failures.has(ip) && this.failures.size >= ADDRESSES_MAX) this.failures.delete(this.failures.keys().next().value as string);
    this.failures.set(ip, list);
    await new Promise((resolve) => setTimeout(resolve, this.options.failureDelayMs));
  }

}
