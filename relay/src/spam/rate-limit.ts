/**
 * Per-user sending limits: at most N messages in any sliding hour. What counts is each MAIL FROM
 * the limiter lets through, as Postfix's anvil counts "message delivery requests"
 * (postfix.org/postconf.5.html#smtpd_client_message_rate_limit): a refused or abandoned message
 * still used a turn, which is what stops a stolen password from probing its way around the limit.
 * A user's memory is the times of its last N messages; counts start afresh when the relay restarts.
 */
const HOUR_MS = 3_600_000;

export type RateDecision = { allowed: true } | { allowed: false; retryAt: Date; limit: number };

export class SendingRateLimiter {
  constructor(
    /** Per-user limit (undefined: unlimited). */
    private readonly limitFor: (user: string) => number | undefined,
    private readonly now: () => number = Date.now,
    private readonly windowMs = HOUR_MS,
    private readonly sent = new Map<string, number[]>(),
  ) {}

  /** The same history under new limits (a config reload must not hand every user a fresh hour). */
  withLimits(limitFor: (user: string) => number | undefined): SendingRateLimiter {
    return new SendingRateLimiter(limitFor, this.now, this.windowMs, this.sent);
  }

  /** Counts one message for `user` if it is within its limit (`limit` overrides the per-user one). */
  take(user: string, limit = this.limitFor(user)): RateDecision {
    if (limit === undefined) return { allowed: true };
    const now = this.now();
    const times = (this.sent.get(user) ?? []).filter((time) => now - time < this.windowMs);
    if (times.length >= limit) {
      this.sent.set(user, times);
      // The oldest message in the window leaves it first: that is when one more may go.
      return { allowed: false, retryAt: new Date(times[0] + this.windowMs), limit };
    }
    times.push(now);
    this.sent.set(user, times);
    return { allowed: true };
  }
}
