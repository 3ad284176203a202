/**
 * What raises alerts (alerts.ts), from signals the relay already has:
 * - cool-off / blocklisted: the throttle's 'cool-off' delivery event (delivery/throttle.ts);
 * - queue-stuck: the oldest queued message is older than alerts.queueStuckAfter (also the metric
 *   mxkit_queue_oldest_message_age_seconds, kept whether or not alerts are configured);
 * - certificate-expiry: the served certificate's mxkit_tls_certificate_expiry_seconds is below
 *   alerts.certificateWarning;
 * - port-25-shut: the outbound port-25 probe (delivery/port25-probe.ts) finds the port closed, or
 *   direct delivery reaches no MX of several domains in a row (connection failures, no delivery in
 *   between: what a provider blocking outbound port 25 looks like, also without a probe).
 */
import type { EventEmitter } from 'node:events';
import type { Gauge } from 'prom-client';
import { parseDuration } from '../config/duration';
import type { RelayConfig } from '../config/schema';
import { onDeliveryEvent, type RecipientEvent } from '../delivery/events';
import type { AlertSender } from './alerts';
import type { DeliverabilityMetrics } from './deliverability-metrics';

/** What the watch needs of the port-25 probe (delivery/port25-probe.ts). */
export interface PortProbe {
  readonly target: string;
  readonly current: string;
  readonly events: EventEmitter;
}

/** Distinct domains whose MX could not be reached, with no MX delivery since, that mean "port 25 shut". */
export const PORT25_DOMAINS = 3;
const PORT25_WINDOW_MS = 30 * 60_000;
const CHECK_EVERY_MS = 60_000;

export interface AlertWatchDeps {
  config: RelayConfig;
  sender: AlertSender;
  metrics: DeliverabilityMetrics;
  tlsExpiry: Gauge<'source'>;
  /** Whether a message is still in the queue (`mxkit queue remove` takes messages out unannounced). */
  isQueued(id: string): Promise<boolean>;
  now?: () => number;
  checkEveryMs?: number;
}

export class AlertWatch {
  private readonly queued = new Map<string, number>();
  private readonly unreachable = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private probe: PortProbe | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: AlertWatchDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Messages in the queue at start. */
  seed(messages: ReadonlyArray<{ id: string; receivedAt: string }>): void {
    for (const message of messages) this.queued.set(message.id, Date.parse(message.receivedAt));
    this.updateOldest();
  }

  received(id: string, receivedAt: string): void {
    this.queued.set(id, Date.parse(receivedAt));
  }

  /** The outbound port-25 probe: a change to closed alerts at once, and again while it lasts. */
  followProbe(probe: PortProbe | undefined): void {
    this.probe = probe;
    probe?.events.on('change', (state: string) => {
      if (state === 'closed') this.raiseProbeClosed();
    });
  }

  private raiseProbeClosed(): void {
    this.deps.sender.raise({ event: 'port-25-shut', severity: 'critical', subject: 'probe', summary: `the outbound port-25 probe cannot connect to ${this.probe?.target ?? 'its target'}: mail to the internet cannot leave (ask the provider to open port 25, or send through a smarthost / mxkit:outbound ses)`, details: { probe: this.probe?.target ?? '' } });
  }

  follow(events: EventEmitter): void {
    onDeliveryEvent(events, 'finished', (event) => this.queued.delete(event.id));
    onDeliveryEvent(events, 'dsn', (event) => this.queued.set(event.dsnId, this.now()));
    onDeliveryEvent(events, 'cool-off', (event) => {
      // A provider by its name; a destination without one by its domain.
      const who = event.group === 'default' ? event.destination.replace(/^domain:/, '') : event.group;
      this.deps.sender.raise({
        event: event.event,
        severity: event.event === 'blocklisted' ? 'critical' : 'warning',
        subject: event.destination,
        summary: event.event === 'blocklisted' ? `${who} refuses our mail as blocklisted (${event.rule}); sending to it paused until ${event.until}` : `${who} is throttling us (${event.rule}); sending to it paused until ${event.until}, then ${event.rate || 'unlimited'} messages a minute`,
        details: { group: event.group, destination: event.destination, rule: event.rule, until: event.until, rate: event.rate, reply: event.reply },
      });
    });
    if (this.deps.config.delivery.smarthost) return;
    const failed = (event: RecipientEvent) => {
      if (event.reason !== 'connection') return;
      this.unreachable.set(event.to.slice(event.to.lastIndexOf('@') + 1).toLowerCase(), this.now());
      this.checkPort25();
    };
    onDeliveryEvent(events, 'deferred', failed);
    onDeliveryEvent(events, 'bounced', failed);
    onDeliveryEvent(events, 'delivered', (event) => {
      if (event.remoteMta !== 'local') this.unreachable.clear();
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.deps.checkEveryMs ?? CHECK_EVERY_MS);
    this.timer.unref();
    void this.check();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private updateOldest(): number {
    let oldest = Infinity;
    for (const at of this.queued.values()) oldest = Math.min(oldest, at);
    const age = oldest === Infinity ? 0 : Math.max(0, this.now() - oldest);
    this.deps.metrics.queueOldest.set(Math.round(age / 1000));
    return age;
  }

  private checkPort25(): void {
    const since = this.now() - PORT25_WINDOW_MS;
    for (const [domain, at] of this.unreachable) if (at < since) this.unreachable.delete(domain);
    if (this.unreachable.size < PORT25_DOMAINS) return;
    this.deps.sender.raise({
      event: 'port-25-shut',
      severity: 'critical',
      subject: 'delivery',
      summary: `no MX of ${this.unreachable.size} domains could be reached and nothing was delivered directly since: outbound port 25 looks blocked (ask the provider to open it, or set delivery.smarthost)`,
      details: { domains: [...this.unreachable.keys()].slice(0, 10).join(', ') },
    });
  }

  /** Forgets messages that left the queue without delivery noticing (removed by hand). */
  private async dropRemoved(): Promise<void> {
    const sorted = [...this.queued.entries()].sort(([, a], [, b]) => a - b);
    for (const [id, at] of sorted.slice(0, 100)) {
      if (this.now() - at < 5 * 60_000) break;
      if (await this.deps.isQueued(id).catch(() => true)) break;
      this.queued.delete(id);
    }
  }

  /** The periodic checks: queue age, certificate expiry, the port-25 probe. */
  async check(): Promise<void> {
    const { config, sender } = this.deps;
    await this.dropRemoved();
    const age = this.updateOldest();
    const alerts = config.alerts;
    if (alerts && age > parseDuration(alerts.queueStuckAfter)) {
      sender.raise({
        event: 'queue-stuck',
        severity: 'warning',
        subject: 'queue',
        summary: `the oldest queued message has waited ${Math.round(age / 60_000)} minutes (alerts.queueStuckAfter ${alerts.queueStuckAfter}); see mxkit queue list and mxkit trace`,
        details: { oldestSeconds: Math.round(age / 1000), queued: this.queued.size },
      });
    }
    const warningSeconds = parseDuration(alerts?.certificateWarning ?? '14d') / 1000;
    for (const { value, labels } of (await this.deps.tlsExpiry.get()).values) {
      if (value >= warningSeconds) continue;
      sender.raise({
        event: 'certificate-expiry',
        severity: value < 3 * 86_400 ? 'critical' : 'warning',
        subject: `tls:${String(labels.source)}`,
        summary: value > 0 ? `the TLS certificate (${String(labels.source)}) expires in ${Math.floor(value / 86_400)} days and has not been renewed` : `the TLS certificate (${String(labels.source)}) has expired`,
        details: { secondsLeft: value, source: String(labels.source) },
      });
    }
    if (this.probe?.current === 'closed') this.raiseProbeClosed();
  }
}
