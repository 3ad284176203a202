/**
 * Metrics of the deliverability loop (docs/deliverability.md, alert rules in
 * docs/alerts/mxkit-rules.yml): throttling per provider group, suppression, per-user bounce and
 * complaint counts, received reports, alerts sent. Registered in the relay's own registry.
 * Label values are bounded: groups are the configured providers plus "default" and "smarthost";
 * users are the configured users plus "unauthenticated".
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export class DeliverabilityMetrics {
  readonly throttleRate: Gauge<'group'>;
  readonly throttleCoolingOff: Gauge<'group'>;
  readonly throttleCoolOffs: Counter<'group' | 'rule'>;
  readonly throttleTransactions: Counter<'group'>;
  readonly throttleDeferrals: Counter<'group' | 'cause'>;
  readonly userRecipients: Counter<'user' | 'outcome'>;
  readonly userComplaints: Counter<'user'>;
  readonly suppressionEntries: Gauge;
  readonly suppressionRefusals: Counter<'reason'>;
  readonly suppressionAdded: Counter<'reason'>;
  readonly reports: Counter<'kind' | 'result'>;
  readonly queueOldest: Gauge;
  readonly alerts: Counter<'event' | 'result'>;
  readonly traceDropped: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.throttleRate = new Gauge({ name: 'mxkit_throttle_rate_per_minute', help: 'Messages a minute a provider group may get now (0: no limit)', labelNames: ['group'], registers });
    this.throttleCoolingOff = new Gauge({ name: 'mxkit_throttle_cooling_off', help: 'Destinations of the group that are pausing after a throttling reply', labelNames: ['group'], registers });
    this.throttleCoolOffs = new Counter({ name: 'mxkit_throttle_cooloffs_total', help: 'Cool-offs started, by group and the rule (reply pattern) that caused them', labelNames: ['group', 'rule'], registers });
    this.throttleTransactions = new Counter({ name: 'mxkit_throttle_transactions_total', help: 'Outbound transactions started, by provider group', labelNames: ['group'], registers });
    this.throttleDeferrals = new Counter({ name: 'mxkit_throttle_deferrals_total', help: 'Deferrals by group and cause (held: kept back by the throttle; remote: a 4xx from the provider)', labelNames: ['group', 'cause'], registers });
    this.userRecipients = new Counter({ name: 'mxkit_user_recipients_total', help: 'Final recipient outcomes of submitted mail, by sending user and outcome (delivered|hard_bounce|bounced)', labelNames: ['user', 'outcome'], registers });
    this.userComplaints = new Counter({ name: 'mxkit_user_complaints_total', help: 'ARF complaints (RFC 5965) about mail of a sending user', labelNames: ['user'], registers });
    this.suppressionEntries = new Gauge({ name: 'mxkit_suppression_entries', help: 'Addresses on the suppression list', registers });
    this.suppressionRefusals = new Counter({ name: 'mxkit_suppression_refusals_total', help: 'Submissions refused because the recipient is suppressed, by reason', labelNames: ['reason'], registers });
    this.suppressionAdded = new Counter({ name: 'mxkit_suppression_added_total', help: 'Addresses added to the suppression list, by reason', labelNames: ['reason'], registers });
    this.reports = new Counter({ name: 'mxkit_reports_received_total', help: 'DMARC aggregate, TLS-RPT and ARF reports received, by kind and result (stored|duplicate|empty|malformed|not_a_report)', labelNames: ['kind', 'result'], registers });
    this.queueOldest = new Gauge({ name: 'mxkit_queue_oldest_message_age_seconds', help: 'Age of the oldest message in the queue (0 when empty)', registers });
    this.alerts = new Counter({ name: 'mxkit_alerts_total', help: 'Alert webhook deliveries, by event and result (sent|failed|dropped)', labelNames: ['event', 'result'], registers });
    this.traceDropped = new Counter({ name: 'mxkit_trace_dropped_total', help: 'Trace entries not written (the store could not keep up or failed)', registers });
  }
}
