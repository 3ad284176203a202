/** Open sessions per client IP (for maxConnectionsPerIp) and in total (for a graceful drain). */
export class ConnectionTracker {
  private readonly byIp = new Map<string, number>();
  private readonly sessions = new Map<string, string>();
  private idleWaiters: Array<() => void> = [];

  /** Registers a session unless its IP already holds `limit` sessions. */
  tryOpen(sessionId: string, ip: string, limit: number): boolean {
    const current = this.byIp.get(ip) ?? 0;
    if (current >= limit) return false;
    this.byIp.set(ip, current + 1);
    this.sessions.set(sessionId, ip);
    return true;
  }

  /** Returns false for a session that was never registered (refused at connect). */
  close(sessionId: string): boolean {
    const ip = this.sessions.get(sessionId);
    if (ip === undefined) return false;
    this.sessions.delete(sessionId);
    const remaining = (this.byIp.get(ip) ?? 1) - 1;
    if (remaining <= 0) this.byIp.delete(ip);
    else this.byIp.set(ip, remaining);
    if (this.sessions.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((wake) => wake());
    }
    return true;
  }

  get open(): number {
    return this.sessions.size;
  }

  /** Resolves when no session is open. */
  whenIdle(): Promise<void> {
    if (this.sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
