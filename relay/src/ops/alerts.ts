/**
 * Alerts that do not need mail (`alerts.webhook`): each event is POSTed as JSON to a URL -- a chat
 * webhook (the body carries a one-line `text`, as Slack and Mattermost expect) or Alertmanager's
 * /api/v2/alerts (`alerts.format: "alertmanager"`). Alerting about mail problems by mail is how
 * operators learn of an outage days late, so this path shares nothing with delivery.
 *
 * Each alert (event + subject) is sent at most once per `alerts.repeatInterval`; a failed POST is
 * retried a few times with growing pauses; at most MAX_PENDING wait, further ones are dropped and
 * counted. The URL often holds a token, so it is never logged (only its host).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AlertsConfig } from '../config/deliverability';
import { parseDuration } from '../config/duration';
import type { DeliverabilityMetrics } from './deliverability-metrics';
import type { Logger } from './logger';

export type AlertEvent = 'queue-stuck' | 'certificate-expiry' | 'port-25-shut' | 'blocklisted' | 'cool-off';

export interface Alert {
  event: AlertEvent;
  severity: 'warning' | 'critical';
  /** What the alert is about (a provider group, a certificate): one alert per event and subject. */
  subject: string;
  summary: string;
  details: Record<string, string | number | boolean>;
}

const ALERT_NAMES: Record<AlertEvent, string> = {
  'queue-stuck': 'MxkitQueueStuck',
  'certificate-expiry': 'MxkitCertificateExpiry',
  'port-25-shut': 'MxkitPort25Shut',
  blocklisted: 'MxkitBlocklisted',
  'cool-off': 'MxkitCoolOff',
};
const MAX_PENDING = 100;
const TIMEOUT_MS = 10_000;
const RETRY_DELAYS_MS = [2_000, 15_000, 60_000];
const MAX_RESPONSE_BYTES = 16 * 1024;

export interface AlertSenderOptions {
  config: AlertsConfig | undefined;
  hostname: string;
  logger: Logger;
  metrics: DeliverabilityMetrics;
  now?: () => number;
  /** Pauses between retries (tests shorten them). */
  retryDelaysMs?: readonly number[];
}

export class AlertSender {
  private readonly lastSent = new Map<string, number>();
  private pending = 0;
  private readonly now: () => number;
  private readonly repeatMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly options: AlertSenderOptions) {
    this.now = options.now ?? Date.now;
    this.repeatMs = options.config ? parseDuration(options.config.repeatInterval) : Infinity;
  }

  /** Logs the alert and, with alerts.webhook, posts it (unless it was sent within repeatInterval). */
  raise(alert: Alert): void {
    const { logger, metrics, config } = this.options;
    const key = `${alert.event}\n${alert.subject}`;
    const last = this.lastSent.get(key);
    if (last !== undefined && this.now() - last < this.repeatMs) return;
    this.lastSent.set(key, this.now());
    if (this.lastSent.size > 10_000) this.lastSent.delete(this.lastSent.keys().next().value as string);
    logger.warn({ alert: alert.event, subject: alert.subject, details: alert.details }, `alert: ${alert.summary}`);
    if (!config || this.stopped) return;
    if (this.pending >= MAX_PENDING) {
      metrics.alerts.inc({ event: alert.event, result: 'dropped' });
      return;
    }
    this.pending++;
    void this.deliver(alert, 0).finally(() => this.pending--);
  }

  private body(alert: Alert): string {
    const { config, hostname } = this.options;
    const at = new Date(this.now()).toISOString();
    if (config?.format === 'alertmanager') {
      // Alertmanager API v2: an alert resolves itself at endsAt unless sent again.
      const endsAt = new Date(this.now() + 2 * Math.min(this.repeatMs, 7 * 86_400_000)).toISOString();
      const annotations = { summary: alert.summary, description: Object.entries(alert.details).map(([k, v]) => `${k}: ${v}`).join('\n') };
      return JSON.stringify([{ labels: { alertname: ALERT_NAMES[alert.event], severity: alert.severity, instance: hostname, event: alert.event, subject: alert.subject }, annotations, startsAt: at, endsAt }]);
    }
    return JSON.stringify({ text: `mxkit ${hostname}: ${alert.summary}`, event: alert.event, severity: alert.severity, subject: alert.subject, host: hostname, at, summary: alert.summary, details: alert.details });
  }

  private async deliver(alert: Alert, attempt: number): Promise<void> {
    const url = new URL(this.options.config?.webhook ?? '');
    const body = this.body(alert);
    const error = await post(url, body).then(
      (status) => (status >= 200 && status < 300 ? undefined : `HTTP ${status}`),
      (failure: Error) => failure.message,
    );
    if (error === undefined) {
      this.options.metrics.alerts.inc({ event: alert.event, result: 'sent' });
      return;
    }
    const delays = this.options.retryDelaysMs ?? RETRY_DELAYS_MS;
    if (attempt >= delays.length || this.stopped) {
      this.options.metrics.alerts.inc({ event: alert.event, result: 'failed' });
      this.options.logger.error({ alert: alert.event, webhookHost: url.host, error }, 'alert webhook failed; giving up on this alert');
      return;
    }
    this.options.logger.warn({ alert: alert.event, webhookHost: url.host, error, attempt: attempt + 1 }, 'alert webhook failed; retrying');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, delays[attempt]);
      timer.unref();
      this.timers.add(timer);
    });
    return this.deliver(alert, attempt + 1);
  }

  stop(): void {
    this.stopped = true;
    this.timers.forEach((timer) => clearTimeout(timer));
    this.timers.clear();
  }
}

/** One POST; resolves with the status code. Bounded in time and in the response read. */
function post(url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'mxkit-alerts' }, timeout: TIMEOUT_MS }, (response) => {
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) response.destroy();
      });
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('close', () => resolve(response.statusCode ?? 0));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000}s`)));
    request.on('error', reject);
    request.end(body);
  });
}
