/**
 * The pace of one destination group (a provider, or one domain that matches none): how many
 * messages a minute it gets now, whether it is cooling off, and the slot each waiting message has.
 *
 * Additive increase, multiplicative decrease (the TCP congestion rule, RFC 5681 3.1, applied to
 * messages): a cool-off halves the rate the group was actually getting and pauses it; every
 * `rampAfter` successes in a row add a tenth of the ceiling back, and one message a minute once
 * close to the rate that was too much. Repeated cool-offs double the
 * pause up to the rule's maximum; successes earn the doubling back. Slots are reserved per message
 * in arrival order, so a queue of many messages to a slow provider is paced, not re-tried in herds.
 */
import type { ThrottleRule } from '../config/deliverability';
import { parseDuration } from '../config/duration';

export interface GroupSettings {
  /** Metric label and state key: the provider name, or "default" for per-domain groups. */
  label: string;
  concurrency: number;
  /** Configured ceiling; 0 = none. */
  messagesPerMinute: number;
}

/** What survives a restart (spoolDir/throttle.json). */
export interface GroupSnapshot {
  rate?: number;
  level: number;
  coolOffUntil: number;
  /** The rate the group had when it was last cut: the ramp ceiling of an unlimited group. */
  cutFrom?: number;
}

export type Slot = { kind: 'now' } | { kind: 'wait'; ms: number } | { kind: 'later'; at: number; reason: string };

export class ThrottleGroup {
  /** Current allowed messages per minute; undefined = unlimited. */
  rate: number | undefined;
  level = 0;
  coolOffUntil = 0;
  cutFrom: number | undefined;
  private streak = 0;
  private lastSlot = -Infinity;
  private readonly starts: number[] = [];
  private readonly reservations = new Map<string, number>();

  constructor(
    readonly key: string,
    readonly settings: GroupSettings,
    private readonly minuteMs: number,
    snapshot?: GroupSnapshot,
  ) {
    this.rate = settings.messagesPerMinute > 0 ? settings.messagesPerMinute : undefined;
    if (snapshot) {
      this.rate = snapshot.rate === undefined ? this.rate : Math.max(1, Math.min(snapshot.rate, this.ceiling ?? Infinity));
      this.level = snapshot.level;
      this.coolOffUntil = snapshot.coolOffUntil;
      this.cutFrom = snapshot.cutFrom;
    }
  }

  private get ceiling(): number | undefined {
    return this.settings.messagesPerMinute > 0 ? this.settings.messagesPerMinute : undefined;
  }

  private get interval(): number {
    return this.rate === undefined ? 0 : this.minuteMs / this.rate;
  }

  coolingOff(now: number): boolean {
    return now < this.coolOffUntil;
  }

  /** Whether the group differs from its configured defaults (worth keeping and saving). */
  adjusted(now: number): boolean {
    return this.level > 0 || this.coolingOff(now) || this.rate !== this.ceiling;
  }

  snapshot(): GroupSnapshot {
    return { ...(this.rate !== undefined ? { rate: this.rate } : {}), level: this.level, coolOffUntil: this.coolOffUntil, ...(this.cutFrom !== undefined ? { cutFrom: this.cutFrom } : {}) };
  }

  /**
   * The turn of one message (`ticket`: its queue id and domain). Either now, after a short wait, or
   * at a later time that stays reserved for it: the message is rescheduled and comes back then.
   */
  take(ticket: string, now: number, maxWaitMs: number): Slot {
    this.dropStaleReservations(now);
    let slot = this.reservations.get(ticket);
    this.reservations.delete(ticket);
    // A turn missed by more than one interval (the message came back late) is not taken all at
    // once with others that missed theirs: it queues again, so a late wake-up is no burst.
    if (slot === undefined || slot < this.coolOffUntil || slot < now - this.interval) slot = this.nextSlot(now);
    if (slot - now > maxWaitMs) {
      this.reservations.set(ticket, slot);
      const reason = this.coolingOff(now) ? `cooling off until ${new Date(this.coolOffUntil).toISOString()}` : `paced at ${this.rate} messages a minute`;
      return { kind: 'later', at: slot, reason };
    }
    return slot <= now ? { kind: 'now' } : { kind: 'wait', ms: slot - now };
  }

  private nextSlot(now: number): number {
    const earliest = Math.max(now, this.coolOffUntil);
    if (this.rate === undefined) return earliest;
    const slot = Math.max(earliest, this.lastSlot + this.interval);
    this.lastSlot = slot;
    return slot;
  }

  private dropStaleReservations(now: number): void {
    if (this.reservations.size < 1000) return;
    for (const [ticket, at] of this.reservations) if (at < now - 10 * this.minuteMs) this.reservations.delete(ticket);
  }

  /** A transaction begins (for the observed rate). */
  started(now: number): void {
    this.starts.push(now);
    while (this.starts.length > 0 && this.starts[0] <= now - this.minuteMs) this.starts.shift();
  }

  /** Messages started in the last minute. */
  observedRate(now: number): number {
    return this.starts.filter((at) => at > now - this.minuteMs).length;
  }

  /** A reply matched `rule`: pause, halve the rate. Returns when the pause ends. */
  coolOff(rule: ThrottleRule, now: number): number {
    const base = parseDuration(rule.coolOff);
    const max = rule.maxCoolOff ? parseDuration(rule.maxCoolOff) : base * 16;
    const pause = Math.min(base * 2 ** Math.min(this.level, 20), Math.max(max, base));
    // A cool-off during a cool-off (a message that was already on its way) does not stack.
    if (this.coolingOff(now)) return this.coolOffUntil;
    const getting = Math.max(1, Math.min(this.rate ?? Infinity, this.observedRate(now)));
    this.cutFrom = getting;
    this.rate = Math.max(1, Math.floor(getting / 2));
    this.level++;
    this.streak = 0;
    this.coolOffUntil = now + pause;
    this.reservations.clear();
    this.lastSlot = -Infinity;
    return this.coolOffUntil;
  }

  /** A transaction went through: every `rampAfter` in a row, step the rate back up. */
  succeeded(now: number, rampAfter: number): boolean {
    if (this.coolingOff(now) || this.rate === undefined) return false;
    if (++this.streak < rampAfter) return false;
    this.streak = 0;
    this.level = Math.max(0, this.level - 1);
    const ceiling = this.ceiling ?? 2 * (this.cutFrom ?? this.rate);
    // Quickly back to most of the rate that was too much, then one message at a time past it
    // (slow start up to a threshold, RFC 5681 3.1).
    const nearLimit = this.cutFrom !== undefined && this.rate >= 0.8 * this.cutFrom;
    const next = this.rate + (nearLimit ? 1 : Math.max(1, Math.ceil(ceiling / 10)));
    if (next >= ceiling) {
      // Back where it started: an unlimited group is unlimited again.
      this.rate = this.ceiling;
      if (this.level === 0) this.cutFrom = undefined;
    } else {
      this.rate = next;
    }
    return true;
  }
}
