/**
 * Who may try a password now, and how urgently (issue 13: 199 addresses x 4 guesses, no global
 * limit, slowed every user's mail). Three throttles over a sliding window, each failure answered
 * after a delay:
 *
 * - per address (limits.authFailuresPerIp): past it, 421 and the session closes (auth-throttle.ts);
 * - per account (limits.authFailuresPerAccount): past it, guesses at that account from addresses
 *   that have not logged in to it recently get 454 4.7.0 without a password check;
 * - global (limits.authFailuresTotal): past it, addresses that have not logged in recently get
 *   454 4.7.0 without a password check, so a distributed guesser cannot keep the password worker
 *   busy.
 *
 * Addresses that logged in recently ("known", remembered for KNOWN_TTL_MS, at most KNOWN_MAX) are
 * exempt from the last two and get the fast lane of the password worker: an attack on an account
 * slows its guessers, not its owner.
 */
import { AuthThrottle } from './auth-throttle';
import type { Lane } from './password-worker';

export const KNOWN_TTL_MS = 7 * 86_400_000;
const KNOWN_MAX = 10_000;
const ACCOUNTS_MAX = 10_000;

export interface AuthGuardOptions {
  perIp: number;
  perAccount: number;
  total: number;
  windowMs: number;
  failureDelayMs: number;
}

export type AuthGate = { allowed: true; lane: Lane } | { allowed: false; reason: 'per_ip' | 'per_account' | 'total' };

/** Timestamps of failures inside the window. */
class Window {
  private readonly failures: number[] = [];

  constructor(private readonly windowMs: number) {}

  count(now: number): number {
    while (this.failures.length > 0 && now - this.failures[0] >= this.windowMs) this.failures.shift();
    return this.failures.length;
  }

  add(now: number): void {
    this.failures.push(now);
  }
}

export class AuthGuard {
  private readonly perIp: AuthThrottle;
  private readonly accounts = new Map<string, Window>();
  private readonly total: Window;
  /** address -> (account -> last login). */
  private readonly known = new Map<string, Map<string, number>>();

  constructor(private readonly options: AuthGuardOptions) {
    this.perIp = new AuthThrottle({ limit: options.perIp, windowMs: options.windowMs, failureDelayMs: options.failureDelayMs });
    this.total = new Window(options.windowMs);
  }

  private knownAccounts(ip: string, now: number): Map<string, number> | undefined {
    const accounts = this.known.get(ip);
    if (!accounts) return undefined;
    for (const [account, at] of accounts) if (now - at >= KNOWN_TTL_MS) accounts.delete(account);
    if (accounts.size === 0) this.known.delete(ip);
    return accounts.size > 0 ? accounts : undefined;
  }

  gate(ip: string, account: string, now = Date.now()): AuthGate {
    if (this.perIp.isBlocked(ip, now)) return { allowed: false, reason: 'per_ip' };
    const known = this.knownAccounts(ip, now);
    if (!known?.has(account) && (this.accounts.get(account)?.count(now) ?? 0) >= this.options.perAccount) return { allowed: false, reason: 'per_account' };
    if (!known && this.total.count(now) >= this.options.total) return { allowed: false, reason: 'total' };
    return { allowed: true, lane: known ? 'known' : 'unknown' };
  }

  /** Whether this address is past its own limit (its session is closed). */
  isBlocked(ip: string, now = Date.now()): boolean {
    return this.perIp.isBlocked(ip, now);
  }

  recordSuccess(ip: string, account: string, now = Date.now()): void {
    if (!this.known.has(ip) && this.known.size >= KNOWN_MAX) this.known.delete(this.known.keys().next().value as string);
    const accounts = this.known.get(ip) ?? new Map<string, number>();
    accounts.set(account, now);
    this.known.delete(ip);
    this.known.set(ip, accounts); // most recent last, so the oldest goes first when full
  }

  /** Records a failure everywhere it counts; resolves after the delay that failure earns. */
  async recordFailure(ip: string, account: string, now = Date.now()): Promise<void> {
    this.total.add(now);
    let window = this.accounts.get(account);
    if (!window) {
      if (this.accounts.size >= ACCOUNTS_MAX) this.accounts.delete(this.accounts.keys().next().value as string);
      window = new Window(this.options.windowMs);
      this.accounts.set(account, window);
    }
    window.add(now);
    await this.perIp.recordFailure(ip, now);
  }
}
