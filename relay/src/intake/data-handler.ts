/**
 * DATA for one listener: builds the spool envelope from the transaction as normalised at the edge,
 * streams the message into the spool (receive-data.ts) with the listener's header rules and
 * message checks, and answers 250 only once the message is durable.
 */
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { Logger } from '../ops/logger';
import { removeSpamHeaders } from '../spam/header-edit';
import type { DnsblListing } from '../spam/spam-filter';
import type { SpoolEnvelope } from '../spool/envelope';
import { removeForgedAuthResults } from './forged-auth-results';
import type { MessageCheck } from './message-check';
import { messageChecksFor } from './message-checks';
import { headerFromRefusal } from './policy';
import { receiveMessage } from './receive-data';
import { Replies, SmtpReply } from './reply';
import type { IntakeContext, ListenerKind } from './context';
import type { ListenerProfile } from './listener-profile';
import type { Principal } from './principal';
import { noteDataProgress } from './session-watchdog';
import { receivedHeader } from './trace-header';
import { completeSubmissionHeader } from './msa/submission-header';
import { sendingDomain } from './msa/sending-domain';

export interface DataTransaction {
  queueId: string;
  log: Logger;
  mailFrom: string;
  rcptTo: readonly string[];
}

export type DataOutcome = { ok: true; queueId: string } | { ok: false; reply: SmtpReply } | { ok: false; disconnected: true };

export class DataHandler {
  private readonly checks: readonly MessageCheck[];
  private readonly kind: ListenerKind;

  constructor(
    private readonly profile: ListenerProfile,
    private readonly context: IntakeContext,
  ) {
    this.kind = profile.kind;
    this.checks = messageChecksFor(profile, { ...(context.inbound ? { inbound: context.inbound } : {}), ...(context.spam ? { spam: context.spam } : {}) }, context.metrics);
  }

  /** `listings`: the DNS block lists that have the client (asked at connect, mx). */
  /** `author`: who the authenticated session speaks for; its allowedFrom judges From:. */
  async handle(stream: SMTPServerDataStream, session: SMTPServerSession, transaction: DataTransaction, listings: () => Promise<readonly DnsblListing[]>, author?: Principal): Promise<DataOutcome> {
    try {
      return { ok: true, queueId: await this.receive(stream, session, transaction, listings, author) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNECTION' || code === 'ERR_STREAM_PREMATURE_CLOSE') return { ok: false, disconnected: true };
      const reply = error instanceof SmtpReply ? error : Replies.spoolFailed();
      if (reply.reason === 'spool_error') transaction.log.error({ err: (error as { cause?: unknown }).cause ?? error }, 'could not spool the message');
      return { ok: false, reply };
    }
  }

  private async receive(stream: SMTPServerDataStream, session: SMTPServerSession, transaction: DataTransaction, listings: () => Promise<readonly DnsblListing[]>, author: Principal | undefined): Promise<string> {
    const { spool, config, metrics } = this.context;
    const envelope: SpoolEnvelope = {
      id: transaction.queueId,
      receivedAt: new Date().toISOString(),
      mailFrom: transaction.mailFrom,
      rcptTo: [...transaction.rcptTo],
      origin: this.profile.origin,
      listener: this.kind,
      clientAddress: session.remoteAddress,
      ...(typeof session.user === 'string' ? { authUser: session.user } : {}),
      smtpUtf8: session.envelope.smtpUtf8 === true,
      bodyType: session.envelope.bodyType === '8bitmime' ? '8bitmime' : '7bit',
    };
    const { bytes } = await receiveMessage(stream, {
      envelope,
      maxMessageBytes: config.limits.maxMessageBytes,
      budget: this.context.budget,
      openDraft: (headRoom) => spool.begin(envelope.id, { headRoom }),
      received: Buffer.from(receivedHeader(session, config.hostname, envelope.id, envelope.rcptTo), 'utf8'),
      // Mail for signing (every listener but mx) must have a From: the signer reads as we do.
      ...(this.profile.recipients === 'authenticated' ? { checkHeader: (header: string) => headerFromRefusal(author?.allowedFrom, header, envelope.smtpUtf8) } : {}),
      // On mx: forged Authentication-Results of ours go, and the sender's own X-Spam* fields when
      // our verdict may stand in their place. On the submission ports the MSA completes what
      // clients leave out (RFC 6409 section 8, msa/): line endings, Date, Message-ID, no Bcc.
      ...(this.profile.inboundChecks ? { rewriteHeader: (header: Buffer) => this.cleanInboundHeader(header) } : {}),
      ...(this.profile.submissionAgent
        ? {
            normaliseLineEndings: true,
            onNormalised: (count: number) => transaction.log.info({ bareLineEndings: count }, 'bare CR/LF normalised to CRLF'),
            rewriteHeader: (header: Buffer) => this.completeHeader(header, envelope, transaction.log),
          }
        : {}),
      checks: this.checks,
      checkContext: { helo: session.hostNameAppearsAs || session.remoteAddress, log: transaction.log, listings },
      progress: (chunkBytes) => noteDataProgress(session, chunkBytes),
    });
    metrics.accepted.inc({ listener: this.kind });
    metrics.receivedBytes.inc({ listener: this.kind }, bytes);
    metrics.spoolMessages.inc();
    transaction.log.info({ from: envelope.mailFrom, rcpt: envelope.rcptTo.length, bytes }, 'message spooled');
    this.context.onSpooled?.(envelope);
    return envelope.id;
  }

  private completeHeader(header: Buffer, envelope: SpoolEnvelope, log: Logger): Buffer {
    const { config } = this.context;
    const domain = sendingDomain(header.toString('latin1'), envelope.mailFrom, config.domains, config.hostname, envelope.smtpUtf8);
    const result = completeSubmissionHeader(header, { now: new Date(), messageIdDomain: domain, queueId: envelope.id });
    if (result.added.length > 0 || result.removedBcc > 0) log.info({ added: result.added, removedBcc: result.removedBcc }, 'submission header completed');
    return result.header;
  }

  private cleanInboundHeader(header: Buffer): Buffer {
    const cleaned = removeForgedAuthResults(header, this.context.config.hostname);
    return this.context.spam?.marksMessages ? removeSpamHeaders(cleaned) : cleaned;
  }
}
