/**
 * The global in-flight byte budget (limits.maxInFlightBytes): bytes of messages being received --
 * DATA begun, not yet stored or refused -- over all sessions. Bodies stream to the spool, so this
 * is disk and page cache rather than heap, but a flood of large messages must still find a limit
 * short of the instance's memory and the spool's volume: past it a message is answered
 * `452 4.3.1` (RFC 3463: mail system full), a temporary refusal the client retries, and a MAIL
 * FROM whose SIZE= (RFC 1870) cannot fit is refused before any byte is sent.
 */
export class ByteBudget {
  private used = 0;

  constructor(
    readonly limit: number,
    /** Told the new total after every change (the in-flight gauge). */
    private readonly onChange: (inFlight: number) => void = () => undefined,
  ) {}

  get inFlight(): number {
    return this.used;
  }

  /** Whether `bytes` more would still fit (for SIZE= at MAIL FROM). */
  fits(bytes: number): boolean {
    return this.used + bytes <= this.limit;
  }

  /** Takes `bytes`; false (and nothing taken) when they do not fit. */
  take(bytes: number): boolean {
    if (!this.fits(bytes)) return false;
    this.used += bytes;
    this.onChange(this.used);
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
    this.onChange(this.used);
  }
}
