/**
 * Adaptive per-provider throttling (docs/deliverability.md): every outbound transaction takes its
 * turn in its destination's group -- a provider recognised by MX host suffix, else its own domain
 * -- within the group's concurrency and messages-per-minute. Replies that match a rule (Yahoo's
 * TSS04, Microsoft's S3150, Gmail's 4.7.28, a 421 ...) pause the whole group and halve its rate;
 * successes ramp it back (throttle-group.ts). A message whose turn is far off, or whose group is
 * pausing, is not sent and not counted as an attempt: it is rescheduled for its reserved turn.
 * Group state is saved in spoolDir/throttle.json, so a restart does not forget a cool-off.
 */
import type { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { ProviderConfig, ThrottleConfig } from '../config/deliverability';
import { parseDuration } from '../config/duration';
import type { DeliverabilityMetrics } from '../ops/deliverability-metrics';
import type { Logger } from '../ops/logger';
import { writeFileAtomic } from '../spool/atomic-file';
import { Limiter } from './limiter';
import { routeDomain } from './mx-routing';
import { localOutcome, type Outcome } from './outcome';
import type { DeliveryResolver } from './resolver';
import { DEFAULT_PROVIDERS, DEFAULT_RULES } from './throttle-defaults';
import { ThrottleGroup, type GroupSettings, type GroupSnapshot, type Slot } from './throttle-group';
import { RuleBook } from './throttle-rules';
import type { GroupResult } from './transport';

export interface ThrottleDeps {
  config: ThrottleConfig;
  /** With a smarthost every message goes to one group, "smarthost". */
  smarthost: boolean;
  resolver: DeliveryResolver;
  statePath: string;
  logger: Logger;
  metrics: DeliverabilityMetrics;
  events: EventEmitter;
  /** Sessions at once over all groups. */
  totalSessions: number;
  /** The length of "a minute" (tests compress time). */
  minuteMs?: number;
  now?: () => number;
}

/** The payload of the 'cool-off' delivery event (alerts.ts turns it into a webhook call). */
export interface CoolOffEvent {
  group: string;
  destination: string;
  rule: string;
  event: 'cool-off' | 'blocklisted';
  until: string;
  rate: number;
  reply: string;
}

/** Outcome reasons that are the remote side talking (a rule may match them). */
const REMOTE_REASONS = new Set(['remote_4xx', 'remote_5xx', 'connection', 'tls']);
const MAX_DOMAIN_GROUPS = 10_000;

export class Throttle {
  private readonly groups = new Map<string, ThrottleGroup>();
  private readonly providers: ProviderConfig[];
  private readonly rules: RuleBook;
  private readonly limiter: Limiter;
  private readonly minuteMs: number;
  private readonly maxWaitMs: number;
  private readonly now: () => number;
  private saved: Record<string, GroupSnapshot> = {};
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly deps: ThrottleDeps) {
    const byName = new Map(DEFAULT_PROVIDERS.map((provider) => [provider.name, provider]));
    for (const provider of deps.config.providers) byName.set(provider.name, provider);
    this.providers = [...byName.values()];
    this.rules = new RuleBook([...deps.config.rules, ...DEFAULT_RULES]);
    this.minuteMs = deps.minuteMs ?? 60_000;
    this.maxWaitMs = parseDuration(deps.config.maxWait);
    this.now = deps.now ?? Date.now;
    this.limiter = new Limiter(deps.totalSessions, (key) => this.groups.get(key)?.settings.concurrency ?? deps.config.default.concurrency);
    for (const provider of this.providers) deps.metrics.throttleRate.set({ group: provider.name }, provider.messagesPerMinute);
  }

  /** Reads the saved state; a missing or unreadable file starts fresh (logged). */
  async load(): Promise<void> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.deps.statePath, 'utf8'));
      const groups = (parsed as { groups?: unknown }).groups;
      if (typeof groups === 'object' && groups !== null) this.saved = sanitiseSnapshots(groups as Record<string, unknown>);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.deps.logger.warn({ err: error, file: this.deps.statePath }, 'throttle state unreadable; starting from the configured rates');
    }
    const now = this.now();
    for (const [key, snapshot] of Object.entries(this.saved)) {
      if (snapshot.coolOffUntil > now) this.deps.logger.info({ group: key, until: new Date(snapshot.coolOffUntil).toISOString() }, 'throttle: cool-off continues after restart');
    }
  }

  /**
   * Runs one transaction of message `id` to `domain` in its group's turn, or returns a deferral
   * for every recipient (outcome 'throttled' with `retryAt`) when the turn is not now.
   */
  async run(id: string, domain: string, recipients: readonly string[], task: () => Promise<GroupResult>): Promise<GroupResult> {
    const group = await this.groupFor(domain);
    const ticket = `${id} ${domain}`;
    let slot: Slot = group.take(ticket, this.now(), this.maxWaitMs);
    for (let round = 0; slot.kind === 'wait' && round < 3; round++) {
      const waited = slot.ms;
      await this.sleep(waited);
      if (this.stopping) return this.heldBack(group, recipients, this.now() + waited, 'the relay is stopping');
      // A cool-off may have begun while this message waited: take a turn after it.
      slot = group.coolingOff(this.now()) ? group.take(ticket, this.now(), this.maxWaitMs) : { kind: 'now' };
    }
    if (slot.kind === 'later') return this.heldBack(group, recipients, slot.at, slot.reason);
    return this.limiter.run(group.key, async () => {
      const now = this.now();
      if (group.coolingOff(now)) {
        const later = group.take(ticket, now, 0);
        return this.heldBack(group, recipients, later.kind === 'later' ? later.at : group.coolOffUntil, `cooling off until ${new Date(group.coolOffUntil).toISOString()}`);
      }
      group.started(now);
      this.deps.metrics.throttleTransactions.inc({ group: group.settings.label });
      const result = await task();
      this.observe(group, result);
      return result;
    });
  }

  /** A wait for a turn that stop() cuts short (shutdown must not wait out a pace). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.sleepers.add(wake);
    });
  }

  /** Ends every wait (those messages are rescheduled) and saves the state. */
  stop(): Promise<void> {
    this.stopping = true;
    [...this.sleepers].forEach((wake) => wake());
    return this.save();
  }

  private heldBack(group: ThrottleGroup, recipients: readonly string[], at: number, reason: string): GroupResult {
    this.deps.metrics.throttleDeferrals.inc({ group: group.settings.label, cause: 'held' }, recipients.length);
    const outcome: Outcome = { ...localOutcome('throttled', `held back by the ${group.settings.label} throttle (${group.key}): ${reason}`), retryAt: at };
    return { outcomes: new Map(recipients.map((recipient) => [recipient, outcome])) };
  }

  private observe(group: ThrottleGroup, result: GroupResult): void {
    const now = this.now();
    const outcomes = [...result.outcomes.values()];
    let remoteDeferrals = 0;
    for (const outcome of outcomes) {
      if (outcome.reason === 'remote_4xx') remoteDeferrals++;
      if (!REMOTE_REASONS.has(outcome.reason)) continue;
      const rule = this.rules.match(outcome.detail);
      if (!rule) continue;
      const wasCooling = group.coolingOff(now);
      const until = group.coolOff(rule, now);
      if (!wasCooling) this.announceCoolOff(group, rule.match, rule.event, until, outcome.detail);
      break;
    }
    if (remoteDeferrals > 0) this.deps.metrics.throttleDeferrals.inc({ group: group.settings.label, cause: 'remote' }, remoteDeferrals);
    if (outcomes.some((outcome) => outcome.verdict === 'delivered') && group.succeeded(now, this.deps.config.rampAfter)) {
      this.deps.logger.info({ group: group.key, rate: group.rate ?? 'unlimited' }, 'throttle: rate stepped back up');
      this.changed(group);
    }
  }

  private announceCoolOff(group: ThrottleGroup, rule: string, event: 'cool-off' | 'blocklisted', until: number, reply: string): void {
    const { label } = group.settings;
    this.deps.metrics.throttleCoolOffs.inc({ group: label, rule });
    const payload: CoolOffEvent = { group: label, destination: group.key, rule, event, until: new Date(until).toISOString(), rate: group.rate ?? 0, reply: reply.slice(0, 500) };
    this.deps.logger.warn(payload, 'throttle: cool-off');
    this.deps.events.emit('cool-off', payload);
    this.changed(group);
    const timer = setTimeout(() => this.updateGauges(), Math.max(0, until - this.now()) + 10);
    timer.unref();
  }

  private changed(group: ThrottleGroup): void {
    this.updateGauges();
    if (group.adjusted(this.now())) this.saved[group.key] = group.snapshot();
    else delete this.saved[group.key];
    this.scheduleSave();
  }

  private updateGauges(): void {
    const now = this.now();
    const cooling = new Map<string, number>();
    for (const group of this.groups.values()) {
      const { label } = group.settings;
      cooling.set(label, (cooling.get(label) ?? 0) + (group.coolingOff(now) ? 1 : 0));
      if (label !== 'default') this.deps.metrics.throttleRate.set({ group: label }, group.rate ?? 0);
    }
    for (const [label, count] of cooling) this.deps.metrics.throttleCoolingOff.set({ group: label }, count);
  }

  /** The group of a destination domain: by its MX host names, else the domain on its own. */
  async groupFor(domain: string): Promise<ThrottleGroup> {
    let key: string;
    let settings: GroupSettings;
    const { default: fallback } = this.deps.config;
    if (this.deps.smarthost) {
      const provider = this.providers.find((candidate) => candidate.name === 'smarthost');
      key = 'smarthost';
      settings = provider ? settingsOf(provider) : { label: 'smarthost', ...fallback };
    } else {
      const provider = await this.providerOf(domain);
      key = provider ? provider.name : `domain:${domain}`;
      settings = provider ? settingsOf(provider) : { label: 'default', ...fallback };
    }
    const existing = this.groups.get(key);
    if (existing) return existing;
    if (this.groups.size >= MAX_DOMAIN_GROUPS) this.forgetIdleGroups();
    const group = new ThrottleGroup(key, settings, this.minuteMs, this.saved[key]);
    this.groups.set(key, group);
    return group;
  }

  private async providerOf(domain: string): Promise<ProviderConfig | undefined> {
    const route = await routeDomain(this.deps.resolver, domain).catch(() => undefined);
    if (!route || route.kind === 'failed') return undefined;
    for (const host of route.hosts) {
      const provider = this.providers.find((candidate) => candidate.mxSuffixes.some((suffix) => host.name === suffix || host.name.endsWith(`.${suffix}`)));
      if (provider) return provider;
    }
    return undefined;
  }

  private forgetIdleGroups(): void {
    const now = this.now();
    for (const [key, group] of this.groups) if (key.startsWith('domain:') && !group.adjusted(now)) this.groups.delete(key);
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save();
    }, 1000);
    this.saveTimer.unref();
  }

  /** Writes the state now (also called at stop). */
  save(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const entries = Object.entries(this.saved).slice(-MAX_DOMAIN_GROUPS);
    const text = `${JSON.stringify({ savedAt: new Date(this.now()).toISOString(), groups: Object.fromEntries(entries) })}\n`;
    this.saving = this.saving
      .then(() => writeFileAtomic(this.deps.statePath, text))
      .catch((error: unknown) => this.deps.logger.warn({ err: error, file: this.deps.statePath }, 'cannot save the throttle state'));
    return this.saving;
  }
}

function settingsOf(provider: ProviderConfig): GroupSettings {
  return { label: provider.name, concurrency: provider.concurrency, messagesPerMinute: provider.messagesPerMinute };
}

/** The state file is ours, but a hand edit or a torn disk must not stop delivery: keep what is sane. */
function sanitiseSnapshots(groups: Record<string, unknown>): Record<string, GroupSnapshot> {
  const sane: Record<string, GroupSnapshot> = {};
  const number = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined);
  for (const [key, value] of Object.entries(groups).slice(0, MAX_DOMAIN_GROUPS)) {
    if (typeof value !== 'object' || value === null || key.length > 300) continue;
    const entry = value as Record<string, unknown>;
    const rate = number(entry.rate);
    const cutFrom = number(entry.cutFrom);
    sane[key] = {
      ...(rate !== undefined && rate >= 1 ? { rate: Math.floor(rate) } : {}),
      level: Math.min(20, Math.floor(number(entry.level) ?? 0)),
      coolOffUntil: number(entry.coolOffUntil) ?? 0,
      ...(cutFrom !== undefined && cutFrom >= 1 ? { cutFrom } : {}),
    };
  }
  return sane;
}
