/**
 * The closed deliverability loop (docs/deliverability.md), wired in one place: the trace store fed
 * by intake and delivery events, the suppression list fed by hard bounces and complaints and
 * consulted at RCPT on submission, the relay's own report mailboxes, alert webhooks, and the ops
 * pages that show it all. relay.ts starts it before delivery (delivery stores reports through
 * it) and subscribes it to delivery's events after.
 */
import type { EventEmitter } from 'node:events';
import { parseDuration } from './config/duration';
import type { RelayConfig } from './config/schema';
import type { AttemptContext } from './delivery/attempt-context';
import type { SmtpReply } from './intake/reply';
import { AlertSender } from './ops/alerts';
import { AlertWatch, type PortProbe } from './ops/alert-watch';
import type { PageSource } from './ops/http';
import type { Logger } from './ops/logger';
import type { RelayMetrics } from './ops/metrics';
import { opsPage } from './ops/pages';
import { ReportSink } from './reports/sink';
import { ReportStore } from './reports/store';
import type { SpoolEnvelope } from './spool/envelope';
import { spoolLayout } from './spool/layout';
import { SuppressionFeed, suppressionReply } from './suppression/feed';
import { SuppressionList } from './suppression/list';
import { takeRemovalRequests } from './suppression/requests';
import { readTrace } from './trace/reader';
import { TraceRecorder } from './trace/recorder';
import { TraceWriter } from './trace/store';

export interface DeliverabilityOptions {
  /** Pauses between alert webhook retries (tests shorten them). */
  alertRetryDelaysMs?: readonly number[];
  /** How often queue age, certificate expiry and the port-25 probe are checked (default 1 min). */
  alertCheckMs?: number;
}

export interface Deliverability {
  storeLocally: NonNullable<AttemptContext['storeLocally']>;
  /** The intake spooled a message. */
  received(envelope: SpoolEnvelope): void;
  /** Subscribes to delivery's events (delivery/events.ts) and its port-25 probe. */
  follow(events: EventEmitter, port25?: PortProbe): void;
  /** The RCPT refusal for a suppressed recipient on submission. */
  suppressedRecipient(address: string): SmtpReply | undefined;
  pages: PageSource;
  /** Messages found in the queue at start (delivery's recovery), for the queue-age watch. */
  seedQueued(messages: ReadonlyArray<{ id: string; receivedAt: string }>): void;
  stop(): Promise<void>;
}

export interface DeliverabilityDeps {
  config: RelayConfig;
  logger: Logger;
  metrics: RelayMetrics;
  /** Whether a message is still queued (Spool.has). */
  isQueued(id: string): Promise<boolean>;
  options?: DeliverabilityOptions;
}

export async function startDeliverability(deps: DeliverabilityDeps): Promise<Deliverability> {
  const { config, metrics } = deps;
  const logger = deps.logger.child({ component: 'deliverability' });
  const layout = spoolLayout(config.spoolDir);
  const writer = new TraceWriter({ dir: layout.trace, retentionMs: parseDuration(config.delivery.traceRetention), logger, onDrop: (count) => metrics.deliverability.traceDropped.inc(count) });
  await writer.open();
  const trace = new TraceRecorder(writer);

  const list = config.suppression.enabled ? new SuppressionList(layout.suppression, config.suppression.maxEntries, logger, (size) => metrics.deliverability.suppressionEntries.set(size)) : undefined;
  await list?.open();
  const feed = new SuppressionFeed({
    list,
    metrics: metrics.deliverability,
    logger,
    users: config.users.map((user) => user.username),
    traced: (id, to, reason) => trace.record(id, { kind: 'suppressed', to, reason }),
  });
  // `mxkit suppress remove` requests (suppression/requests.ts).
  const removals = setInterval(() => {
    void takeRemovalRequests(layout.control)
      .then(async (addresses) => {
        for (const address of addresses) if (await list?.remove(address)) logger.info({ address }, 'recipient removed from the suppression list');
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'cannot read suppression removal requests'));
  }, 1000);
  removals.unref();

  const reports = config.reports ? new ReportStore(layout.reports, { retentionMs: parseDuration(config.reports.retention), maxStored: config.reports.maxStored }) : undefined;
  await reports?.open();
  const sink = reports
    ? new ReportSink({
        config,
        store: reports,
        metrics: metrics.deliverability,
        logger,
        userOf: async (queueId) => {
          await writer.flush();
          const received = (await readTrace(layout.trace, { id: queueId }))[0]?.entries.find((entry) => entry.kind === 'received');
          return received?.kind === 'received' ? received.user : undefined;
        },
        complained: (complaint, user) => {
          feed.complaint(complaint.recipient, complaint.feedbackType, user, complaint.queueId);
          if (complaint.queueId) trace.record(complaint.queueId, { kind: 'complaint', feedbackType: complaint.feedbackType, ...(complaint.recipient ? { to: complaint.recipient } : {}), ...(complaint.reporter ? { reporter: complaint.reporter } : {}) });
        },
      })
    : undefined;

  const sender = new AlertSender({ config: config.alerts, hostname: config.hostname, logger, metrics: metrics.deliverability, ...(deps.options?.alertRetryDelaysMs ? { retryDelaysMs: deps.options.alertRetryDelaysMs } : {}) });
  const watch = new AlertWatch({ config, sender, metrics: metrics.deliverability, tlsExpiry: metrics.tlsCertificateExpiry, isQueued: deps.isQueued, ...(deps.options?.alertCheckMs ? { checkEveryMs: deps.options.alertCheckMs } : {}) });
  watch.start();

  return {
    storeLocally: (mailbox, envelope, body) => (sink ? sink.store(mailbox, envelope, body) : Promise.reject(new Error('reports are not configured'))),
    seedQueued: (messages) => watch.seed(messages),
    received: (envelope) => {
      trace.received(envelope);
      watch.received(envelope.id, envelope.receivedAt);
    },
    follow: (events, port25) => {
      trace.follow(events);
      feed.follow(events);
      watch.follow(events);
      watch.followProbe(port25);
    },
    suppressedRecipient: (address) => {
      const entry = list?.lookup(address);
      if (!entry) return undefined;
      metrics.deliverability.suppressionRefusals.inc({ reason: entry.reason });
      return suppressionReply(entry);
    },
    pages: (path, query) => opsPage({ hostname: config.hostname, reportsDir: layout.reports, traceDir: layout.trace, flushTrace: () => writer.flush() }, path, query),
    stop: async () => {
      clearInterval(removals);
      watch.stop();
      sender.stop();
      await writer.close();
    },
  };
}
