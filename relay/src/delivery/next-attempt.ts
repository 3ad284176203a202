/**
 * When a message with recipients still pending is next attempted: on `delivery.retrySchedule`
 * after a real attempt, or at the turn the throttle reserved when it held recipients back
 * (throttle.ts) -- whichever comes first, and never after the message expires (it then bounces as
 * expired at that attempt).
 */
export interface NextAttemptInput {
  now: number;
  /** The retry-schedule delay for this attempt number. */
  delay: number;
  /** receivedAt + delivery.maxQueueTime. */
  expiresAt: number;
  /** The earliest turn the throttle reserved for a held-back recipient, if any. */
  throttledUntil?: number;
  /** Every recipient of this attempt was held back (no remote host was contacted). */
  onlyThrottled: boolean;
}

export function nextAttemptTime(input: NextAttemptInput): number {
  const { now, delay, expiresAt, throttledUntil, onlyThrottled } = input;
  const scheduled = onlyThrottled && throttledUntil !== undefined ? throttledUntil : Math.min(now + delay, throttledUntil ?? Infinity);
  return Math.min(Math.max(scheduled, now), Math.max(expiresAt, now));
}
