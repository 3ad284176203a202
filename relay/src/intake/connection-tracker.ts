/**
 * Admission of connections, counted when the TCP connection is accepted -- before a TLS handshake
 * on the implicit-TLS port, before the greeting -- so a client that never finishes its handshake
 * holds a slot like any other (issue 13: 1,500 silent connections to 465 were counted by nothing).
 *
 * - limits.maxConnectionsPerIp: one client address, all listeners together.
 * - limits.maxConnections: all listeners together, with limits.reservedConnections slots kept for
 *   each SMTP listener: a flood on 25 can fill 25's share and the common pool, never the slots of
 *   587 and 465 (and the other way round). Invariant: the sum over listeners of
 *   max(reserved, open) never exceeds maxConnections.
 * - a listener past STRESS_SHARE of what it may use is "under stress": its sessions get shorter
 *   deadlines (session-watchdog.ts), as Postfix shortens smtpd_timeout under stress.
 */
export type AdmissionRefusal = 'per_ip' | 'full';

export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
  reservedConnections: number;
}

const STRESS_SHARE = 0.75;

export class ConnectionTracker {
  private readonly byIp = new Map<string, number>();
  private readonly byListener = new Map<string, number>();
  private total = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly listeners: readonly string[],
  ) {}

  private openOn(listener: string): number {
    return this.byListener.get(listener) ?? 0;
  }

  /** Slots held or kept: max(reserved, open) summed over the listeners. */
  private committed(): number {
    return this.listeners.reduce((sum, listener) => sum + Math.max(this.limits.reservedConnections, this.openOn(listener)), 0);
  }

  /** Admits a connection, or says why not. `release` (idempotent) must be called when it closes. */
  tryAdmit(listener: string, ip: string): { ok: true; release: () => void } | { ok: false; refusal: AdmissionRefusal } {
    if ((this.byIp.get(ip) ?? 0) >= this.limits.maxConnectionsPerIp) return { ok: false, refusal: 'per_ip' };
    const withinReservation = this.openOn(listener) < this.limits.reservedConnections;
    if (!withinReservation && this.committed() >= this.limits.maxConnections) return { ok: false, refusal: 'full' };
    this.byIp.set(ip, (this.byIp.get(ip) ?? 0) + 1);
    this.byListener.set(listener, this.openOn(listener) + 1);
    this.total++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.release(listener, ip);
      },
    };
  }

  private release(listener: string, ip: string): void {
    const remaining = (this.byIp.get(ip) ?? 1) - 1;
    if (remaining <= 0) this.byIp.delete(ip);
    else this.byIp.set(ip, remaining);
    this.byListener.set(listener, this.openOn(listener) - 1);
    this.total--;
    if (this.total === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((wake) => wake());
    }
  }

  /** The most a listener can hold: everything but the other listeners' reservations. */
  private share(listener: string): number {
    return this.limits.maxConnections - this.limits.reservedConnections * this.listeners.filter((other) => other !== listener).length;
  }

  underStress(listener: string): boolean {
    return this.openOn(listener) >= STRESS_SHARE * this.share(listener);
  }

  get open(): number {
    return this.total;
  }

  /** Resolves when no connection is open. */
  whenIdle(): Promise<void> {
    if (this.total === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
