/** Prometheus metrics of the relay, in a registry of its own (no global state between tests). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DeliverabilityMetrics } from './deliverability-metrics';

export class RelayMetrics {
  readonly registry = new Registry();
  readonly connections = new Counter({ name: 'mxkit_smtp_connections_total', help: 'SMTP connections accepted by listener', labelNames: ['listener'], registers: [this.registry] });
  readonly activeSessions = new Gauge({ name: 'mxkit_smtp_sessions_active', help: 'Open SMTP sessions by listener', labelNames: ['listener'], registers: [this.registry] });
  readonly accepted = new Counter({ name: 'mxkit_messages_accepted_total', help: 'Messages spooled and answered 250', labelNames: ['listener'], registers: [this.registry] });
  readonly rejected = new Counter({ name: 'mxkit_messages_rejected_total', help: 'Commands or messages refused, by reason', labelNames: ['listener', 'reason'], registers: [this.registry] });
  readonly receivedBytes = new Counter({ name: 'mxkit_received_bytes_total', help: 'Message bytes spooled', labelNames: ['listener'], registers: [this.registry] });
  readonly authThrottled = new Counter({ name: 'mxkit_auth_throttled_total', help: 'AUTH attempts refused without a password check, by reason (per_ip|per_account|total|busy)', labelNames: ['listener', 'reason'], registers: [this.registry] });
  readonly authFailures = new Counter({ name: 'mxkit_auth_failures_total', help: 'Failed AUTH attempts', labelNames: ['listener'], registers: [this.registry] });
  readonly inFlightBytes = new Gauge({ name: 'mxkit_smtp_in_flight_bytes', help: 'Bytes of messages being received now, all sessions (limits.maxInFlightBytes)', registers: [this.registry] });
  readonly oauthFailures = new Counter({ name: 'mxkit_auth_oauth_failures_total', help: 'OAuth bearer tokens refused, by reason (expired, wrong_audience, unknown_key, ...)', labelNames: ['reason'], registers: [this.registry] });
  // Config reloads (SIGHUP; relay/src/config/reload.ts). The info gauge's revision is the hash of the file in use.
  readonly configReloads = new Counter({ name: 'mxkit_config_reloads_total', help: 'Config reloads by result (applied|refused)', labelNames: ['result'], registers: [this.registry] });
  readonly configLastReloadSuccessful = new Gauge({ name: 'mxkit_config_last_reload_successful', help: '1 if the last config reload was applied (or none was tried), 0 if it was refused', registers: [this.registry] });
  readonly configRestartNeeded = new Gauge({ name: 'mxkit_config_restart_needed', help: '1 when a reloaded config changed settings only a restart applies (listen, spoolDir, tls, mtaSts, ...)', registers: [this.registry] });
  readonly configInfo = new Gauge({ name: 'mxkit_config_info', help: 'The config in use: 1 for its revision (first 12 hex digits of the file\'s SHA-256)', labelNames: ['revision'], registers: [this.registry] });
  // How this start compiled the program (relay/src/code-cache/; `mxkit code-cache`): used | rejected | other-build | absent | unreadable | not-bundled.
  readonly codeCacheInfo = new Gauge({ name: 'mxkit_code_cache_info', help: 'How this start compiled the relay: 1 for the code cache status (used, rejected, other-build, absent, unreadable, not-bundled)', labelNames: ['status'], registers: [this.registry] });
  readonly spoolMessages = new Gauge({ name: 'mxkit_spool_messages', help: 'Messages in the spool queue', registers: [this.registry] });
  readonly spoolRecovering = new Gauge({ name: 'mxkit_spool_recovering', help: '1 while the queue found at start is still being scheduled (the relay takes mail meanwhile), then 0', registers: [this.registry] });
  // TLS (relay/src/tls/state.ts sets it; docs/tls.md). source: acme | file | temporary (self-signed stand-in).
  readonly tlsCertificateExpiry = new Gauge({ name: 'mxkit_tls_certificate_expiry_seconds', help: 'Seconds until the served TLS certificate expires (negative once expired), by source', labelNames: ['source'], registers: [this.registry] });
  // Delivery (per recipient).
  readonly delivered = new Counter({ name: 'mxkit_delivery_delivered_total', help: 'Recipients delivered, by route (mx|smarthost) and TLS use', labelNames: ['route', 'tls'], registers: [this.registry] });
  readonly deferred = new Counter({ name: 'mxkit_delivery_deferred_total', help: 'Recipient attempts deferred for a retry, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly bounced = new Counter({ name: 'mxkit_delivery_bounced_total', help: 'Recipients given up on, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly dsns = new Counter({ name: 'mxkit_delivery_dsn_total', help: 'DSNs queued, by action (failed|delayed)', labelNames: ['action'], registers: [this.registry] });
  readonly dsnsSuppressed = new Counter({ name: 'mxkit_delivery_dsn_suppressed_total', help: 'DSNs not sent, by action (failed|delayed) and reason (null_sender: about a bounce; unauthenticated_sender: mail received on mx whose sender intake did not authenticate; inbound: delay warnings about forwarded mail)', labelNames: ['action', 'reason'], registers: [this.registry] });
  // The failed list (spool/failed.ts): endings without delivery and without a DSN. Alert on any increase.
  readonly failed = new Counter({ name: 'mxkit_delivery_failed_total', help: 'Recipients given up on without a DSN (kept in the failed list), by listener and reason', labelNames: ['listener', 'reason'], registers: [this.registry] });
  readonly failedMessages = new Gauge({ name: 'mxkit_failed_messages', help: 'Messages in the failed list (mxkit queue list --failed)', registers: [this.registry] });
  // Outbound route (delivery/port25-probe.ts): 1 when sending through delivery.smarthost.
  readonly outboundSmarthost = new Gauge({ name: 'mxkit_outbound_smarthost', help: '1 when delivery goes through delivery.smarthost, 0 when direct to MX hosts', registers: [this.registry] });
  readonly port25Open = new Gauge({ name: 'mxkit_outbound_port25_open', help: 'Direct delivery only: 1 when a TCP connection to port 25 of the probe target succeeded at the last probe, 0 when it failed', labelNames: ['target'], registers: [this.registry] });
  readonly deliveryHeld = new Gauge({ name: 'mxkit_delivery_held', help: '1 while new delivery attempts wait because a burst of incoming mail keeps the main thread busy (intake first; at most 30 s past their due time), else 0', registers: [this.registry] });
  readonly deliveryHeldSeconds = new Counter({ name: 'mxkit_delivery_held_seconds_total', help: 'Seconds new delivery attempts waited for a burst of incoming mail (intake first), counted when each hold ends; rate() is the share of time held', registers: [this.registry] });
  readonly sessions = new Counter({ name: 'mxkit_delivery_sessions_total', help: 'Outbound SMTP sessions that held a transaction, by TLS use (TLS share = yes / all)', labelNames: ['tls'], registers: [this.registry] });
  readonly queueAge = new Histogram({
    name: 'mxkit_delivery_queue_age_seconds',
    help: 'Time from acceptance to final outcome (delivered or bounced), per recipient',
    buckets: [1, 10, 60, 300, 1800, 3600, 4 * 3600, 86_400, 5 * 86_400],
    registers: [this.registry],
  });
  readonly inbound = new Counter({ name: 'mxkit_inbound_auth_total', help: 'Inbound messages by DMARC result and action', labelNames: ['dmarc', 'action'], registers: [this.registry] });
  // Spam filtering (relay/src/spam; docs/spam.md).
  readonly spamVerdicts = new Counter({ name: 'mxkit_spam_verdicts_total', help: 'Content-scan verdicts by listener and action (accept|flag|reject|soft_reject|unscanned|tempfail)', labelNames: ['listener', 'action'], registers: [this.registry] });
  readonly dnsblHits = new Counter({ name: 'mxkit_dnsbl_hits_total', help: 'Clients found on a DNS block list, by list and its action (reject|flag)', labelNames: ['zone', 'action'], registers: [this.registry] });
  readonly dnsblRefused = new Counter({ name: 'mxkit_dnsbl_refused_total', help: 'DNSBL answers in 127.255.255.0/24: the list refused our resolver (treated as not listed)', labelNames: ['zone'], registers: [this.registry] });
  readonly dnsblErrors = new Counter({ name: 'mxkit_dnsbl_errors_total', help: 'DNSBL queries that failed or timed out (treated as not listed)', labelNames: ['zone'], registers: [this.registry] });
  readonly rspamdErrors = new Counter({ name: 'mxkit_rspamd_errors_total', help: 'rspamd scans that failed, by reason (unavailable|timeout|http_status|bad_reply|read_error)', labelNames: ['reason'], registers: [this.registry] });
  readonly rspamdLatency = new Histogram({
    name: 'mxkit_rspamd_scan_seconds',
    help: 'Time rspamd took to answer a scan (failures included)',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly userRateLimited = new Counter({ name: 'mxkit_user_rate_limited_total', help: 'MAIL FROM refused with 450 because the user reached its messages-per-hour limit', labelNames: ['user'], registers: [this.registry] });
  // Throttling, suppression, reports, alerts, trace (ops/deliverability-metrics.ts).
  readonly deliverability = new DeliverabilityMetrics(this.registry);

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'mxkit_process_' });
  }
}
