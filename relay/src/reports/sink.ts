/**
 * Delivery into the relay's own mailboxes (`reports.*`): a DMARC aggregate or TLS-RPT report is
 * parsed and stored; an ARF complaint suppresses the complaining recipient and counts against the
 * user who sent the original. Whatever the message holds, the outcome is "delivered" (the message
 * is ours now, its problems are counted and shown by `mxkit reports`); only a failure to write
 * the store defers it, so a full disk loses no report.
 */
import type { RelayConfig } from '../config/schema';
import type { LocalMailbox } from '../delivery/events';
import { deliveredOutcome, type Outcome } from '../delivery/outcome';
import { senderAllowed } from '../intake/policy';
import { normalizeAddress } from '../mail/address';
import type { DeliverabilityMetrics } from '../ops/deliverability-metrics';
import type { Logger } from '../ops/logger';
import type { SpoolEnvelope } from '../spool/envelope';
import { parseArf, type Complaint } from './arf';
import { extractDmarc, extractTlsRpt, type Extracted } from './extract';
import type { ReportKind, ReportStore, StoredReport } from './store';

export interface ReportSinkDeps {
  config: Pick<RelayConfig, 'hostname' | 'users'>;
  store: ReportStore;
  metrics: DeliverabilityMetrics;
  logger: Logger;
  /** The user who submitted a queued message, from the trace store. */
  userOf(queueId: string): Promise<string | undefined>;
  /** A complaint to act on: suppress the recipient, count it against the user, trace it. */
  complained(complaint: Complaint, user: string | undefined): void;
}

const KIND: Record<LocalMailbox, ReportKind> = { dmarc: 'dmarc', tlsRpt: 'tlsRpt', complaints: 'complaint' };

export class ReportSink {
  constructor(private readonly deps: ReportSinkDeps) {}

  /** AttemptContext.storeLocally. */
  store = async (mailbox: LocalMailbox, envelope: SpoolEnvelope, body: Buffer): Promise<Outcome> => {
    const kind = KIND[mailbox];
    const base = { kind, receivedAt: envelope.receivedAt, queueId: envelope.id, sender: envelope.mailFrom.slice(0, 320) };
    let report: StoredReport;
    if (kind === 'dmarc') report = { ...base, ...this.fromExtracted(extractDmarc(body), 'dmarc') };
    else if (kind === 'tlsRpt') report = { ...base, ...this.fromExtracted(extractTlsRpt(body), 'tlsRpt') };
    else report = { ...base, ...(await this.complaint(body)) };
    const result = await this.deps.store.save(report);
    this.deps.metrics.reports.inc({ kind, result });
    const log = { queueId: envelope.id, kind, result, from: envelope.mailFrom, ...(report.problem ? { problem: report.problem } : {}) };
    if (result === 'empty' || result === 'malformed') this.deps.logger.warn(log, 'report received but not usable');
    else this.deps.logger.info(log, 'report received');
    return deliveredOutcome(`stored locally: ${kind} report, ${result}`, 'local', false);
  };

  private fromExtracted(extracted: Extracted<unknown>, key: 'dmarc' | 'tlsRpt'): Pick<StoredReport, 'result' | 'problem' | 'dmarc' | 'tlsRpt'> {
    if (extracted.result !== 'stored') return { result: extracted.result, problem: extracted.problem };
    return { result: 'stored', [key]: extracted.report };
  }

  private async complaint(body: Buffer): Promise<Pick<StoredReport, 'result' | 'problem' | 'complaint'>> {
    let complaint: Complaint | undefined;
    try {
      complaint = parseArf(body, this.deps.config.hostname);
    } catch (error) {
      return { result: 'malformed', problem: `unreadable: ${(error as Error).message.slice(0, 200)}` };
    }
    if (!complaint) return { result: 'not_a_report', problem: 'no message/feedback-report part (RFC 5965): not an ARF complaint' };
    const user = (complaint.queueId ? await this.deps.userOf(complaint.queueId).catch(() => undefined) : undefined) ?? this.userByFrom(complaint.originalFrom);
    this.deps.complained(complaint, user);
    return { result: 'stored', complaint: { ...complaint, ...(user ? { user } : {}) } };
  }

  /** Without our queue id (trimmed by the feedback loop), the user allowed to send as From:. */
  private userByFrom(from: string | undefined): string | undefined {
    if (!from) return undefined;
    // The complaint's From, through the one address model, matched as allowedFrom is at intake.
    const normalized = normalizeAddress(from, { utf8: true });
    if (!normalized.ok) return undefined;
    const matching = this.deps.config.users.filter((user) => senderAllowed(user.allowedFrom, normalized.mailbox));
    return matching.length === 1 ? matching[0].username : undefined;
  }
}
