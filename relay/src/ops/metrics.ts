/** Prometheus metrics of the relay, in a registry of its own (no global state between tests). */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class RelayMetrics {
  readonly registry = new Registry();
  readonly connections = new Counter({ name: 'mxkit_smtp_connections_total', help: 'SMTP connections accepted by listener', labelNames: ['listener'], registers: [this.registry] });
  readonly activeSessions = new Gauge({ name: 'mxkit_smtp_sessions_active', help: 'Open SMTP sessions by listener', labelNames: ['listener'], registers: [this.registry] });
  readonly accepted = new Counter({ name: 'mxkit_messages_accepted_total', help: 'Messages spooled and answered 250', labelNames: ['listener'], registers: [this.registry] });
  readonly rejected = new Counter({ name: 'mxkit_messages_rejected_total', help: 'Commands or messages refused, by reason', labelNames: ['listener', 'reason'], registers: [this.registry] });
  readonly receivedBytes = new Counter({ name: 'mxkit_received_bytes_total', help: 'Message bytes spooled', labelNames: ['listener'], registers: [this.registry] });
  readonly authFailures = new Counter({ name: 'mxkit_auth_failures_total', help: 'Failed AUTH attempts', labelNames: ['listener'], registers: [this.registry] });
  readonly spoolMessages = new Gauge({ name: 'mxkit_spool_messages', help: 'Messages in the spool queue', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'mxkit_process_' });
  }
}
