/**
 * The SMTP conversation of one listener: connect, AUTH, MAIL, RCPT, DATA, close. Every refusal is
 * an SmtpReply (code + enhanced status); a handler that throws unexpectedly answers 451 4.3.0,
 * never a silent 550.
 */
import type { BlockList } from 'node:net';
import type {
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerDataStream,
  SMTPServerSession,
} from 'smtp-server';
import type { RelayConfig } from '../config/schema';
import type { Logger } from '../ops/logger';
import type { RelayMetrics } from '../ops/metrics';
import type { SpoolEnvelope } from '../spool/envelope';
import { removeSpamHeaders, replaceSubject } from '../spam/header-edit';
import type { ContentScanInput, DnsblListing, MessageBody, SpamFilter } from '../spam/spam-filter';
import { newQueueId } from '../spool/queue-id';
import type { Spool } from '../spool/spool';
import type { AuthThrottle } from './auth-throttle';
import type { ConnectionTracker } from './connection-tracker';
import { verifyPassword } from './password';
import { checkInboundRecipient, headerFromRefusal, InboundReplies, isSrsAddress, isTrusted, parseMailbox, senderAllowed, type InboundHooks } from './policy';
import { removeForgedAuthResults } from './forged-auth-results';
import { receiveMessage } from './receive-data';
import { Replies, SmtpReply } from './reply';
import { receivedHeader } from './trace-header';

export type ListenerKind = 'mx' | 'submission' | 'submissions';

export interface IntakeContext {
  config: RelayConfig;
  spool: Spool;
  logger: Logger;
  metrics: RelayMetrics;
  throttle: AuthThrottle;
  trusted: BlockList;
  connections: ConnectionTracker;
  isDraining(): boolean;
  /** Called after a message is durably spooled and before the 250 goes out. */
  onSpooled?(envelope: SpoolEnvelope): void;
  /** Inbound authentication and SRS bounce addresses for the `mx` listener (from delivery/). */
  inbound?: InboundHooks;
  /** DNS block lists, sending limits and content scanning (relay/src/spam). */
  spam?: SpamFilter;
  /** Submission only: a refusal for a suppressed recipient (suppression/feed.ts), if any. */
  suppressedRecipient?(address: string): SmtpReply | undefined;
}

interface Transaction {
  queueId: string;
  log: Logger;
}

type Done = (error?: Error | null) => void;

/** Refused RCPTs on `mx` one session may collect before it is cut off (Postfix smtpd_hard_error_limit-like). */
export const MAX_REFUSED_RECIPIENTS = 10;

export class SessionHandlers {
  private readonly transactions = new WeakMap<SMTPServerSession, Transaction>();
  /** Refused RCPTs per session (smtp-server keeps one session object per connection, RSET included). */
  private readonly refusedRecipients = new WeakMap<SMTPServerSession, number>();
  /** DNSBL lookups started at connect (mx), awaited at RCPT and DATA. */
  private readonly screenings = new WeakMap<SMTPServerSession, Promise<DnsblListing[]>>();

  constructor(
    private readonly kind: ListenerKind,
    private readonly context: IntakeContext,
  ) {}

  private sessionLog(session: SMTPServerSession): Logger {
    return this.transactions.get(session)?.log ?? this.context.logger.child({ listener: this.kind, session: session.id });
  }

  private refuse(session: SMTPServerSession, reason: string, reply: SmtpReply, done: Done): void {
    this.context.metrics.rejected.inc({ listener: this.kind, reason });
    this.sessionLog(session).info({ reason, reply: reply.toString(), client: session.remoteAddress }, 'refused');
    done(reply);
  }

  onConnect = (session: SMTPServerSession, done: Done): void => {
    const { config, connections, metrics } = this.context;
    if (this.context.isDraining()) return this.refuse(session, 'shutting_down', Replies.shuttingDown(), done);
    if (connections.open >= config.limits.maxConnections) {
      return this.refuse(session, 'too_many_connections', Replies.serverBusy(), done);
    }
    if (!connections.tryOpen(session.id, session.remoteAddress, config.limits.maxConnectionsPerIp)) {
      return this.refuse(session, 'too_many_connections', Replies.tooManyConnections(), done);
    }
    metrics.connections.inc({ listener: this.kind });
    metrics.activeSessions.inc({ listener: this.kind });
    // RFC 8314 / RFC 4954: AUTH is offered on submission only once the session is encrypted.
    if (this.kind === 'submission') session.disabledCommands = ['AUTH'];
    this.screenClient(session);
    done();
  };

  /**
   * DNS block lists are asked as the client connects, so the answers are in by the time it gets to
   * RCPT. A listed client is refused at RCPT, not at connect: clients often retry at once after a
   * refused greeting, and at RCPT the log shows who wrote to whom, which is what an operator needs
   * to judge a false positive (Postfix postscreen does the same, postfix.org/POSTSCREEN_README.html).
   * Only mx is screened (it has no AUTH), and never a client in trustedNetworks.
   */
  private screenClient(session: SMTPServerSession): void {
    const spam = this.context.spam;
    if (this.kind !== 'mx' || !spam?.screensClients || isTrusted(this.context.trusted, session.remoteAddress)) return;
    this.screenings.set(session, spam.screen(session.remoteAddress));
  }

  onSecure = (_socket: unknown, session: SMTPServerSession, done: Done): void => {
    if (this.kind === 'submission') session.disabledCommands = [];
    done();
  };

  onClose = (session: SMTPServerSession): void => {
    if (this.context.connections.close(session.id)) this.context.metrics.activeSessions.dec({ listener: this.kind });
  };

  onAuth = (
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    done: (error: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): void => {
    this.authenticate(auth, session).then(
      (result) => (result instanceof SmtpReply ? done(result) : done(null, { user: result })),
      (error: unknown) => {
        this.sessionLog(session).error({ err: error }, 'authentication failed unexpectedly');
        done(new SmtpReply(454, '4.7.0', 'Temporary authentication failure'));
      },
    );
  };

  private async authenticate(auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<string | SmtpReply> {
    const { throttle, config, metrics } = this.context;
    const ip = session.remoteAddress;
    const log = this.sessionLog(session);
    if (throttle.isBlocked(ip)) {
      log.warn({ client: ip, user: auth.username }, 'AUTH refused: too many failures from this address');
      return Replies.authThrottled();
    }
    const user = config.users.find((candidate) => candidate.username === auth.username);
    if (await verifyPassword(auth.password ?? '', user?.passwordHash)) {
      log.info({ user: auth.username, method: auth.method }, 'authenticated');
      return auth.username ?? '';
    }
    metrics.authFailures.inc({ listener: this.kind });
    log.warn({ client: ip, user: auth.username, method: auth.method }, 'AUTH failed');
    await throttle.recordFailure(ip);
    return throttle.isBlocked(ip) ? Replies.authThrottled() : Replies.authFailed();
  }

  onMailFrom = (address: SMTPServerAddress, session: SMTPServerSession, done: Done): void => {
    if (this.context.isDraining()) return this.refuse(session, 'shutting_down', Replies.shuttingDown(), done);
    const queueId = newQueueId();
    const log = this.context.logger.child({ listener: this.kind, session: session.id, queueId });
    this.transactions.set(session, { queueId, log });
    const refusal = this.senderRefusal(address.address, session) ?? this.sendingLimitRefusal(session);
    if (refusal) return this.refuse(session, refusal.reason, refusal.reply, done);
    log.info({ from: address.address, client: session.remoteAddress, user: session.user }, 'MAIL FROM accepted');
    done();
  };

  private senderRefusal(sender: string, session: SMTPServerSession): { reason: string; reply: SmtpReply } | undefined {
    if (this.kind === 'mx') {
      if (sender !== '' && !parseMailbox(sender)) return { reason: 'bad_sender', reply: Replies.badSenderSyntax(sender) };
      return undefined;
    }
    const username = typeof session.user === 'string' ? session.user : undefined;
    if (username === undefined) {
      if (isTrusted(this.context.trusted, session.remoteAddress)) return undefined;
      return { reason: 'auth_required', reply: Replies.authRequired() };
    }
    const user = this.context.config.users.find((candidate) => candidate.username === username);
    if (!user || !senderAllowed(user.allowedFrom, sender)) return { reason: 'sender_not_allowed', reply: Replies.senderNotAllowed(sender) };
    return undefined;
  }

  /** Authenticated users' messages-per-hour limit: each accepted MAIL FROM takes a turn. */
  private sendingLimitRefusal(session: SMTPServerSession): { reason: string; reply: SmtpReply } | undefined {
    if (this.kind === 'mx' || typeof session.user !== 'string' || !this.context.spam) return undefined;
    const decision = this.context.spam.takeSendingTurn(session.user);
    return decision.allowed ? undefined : { reason: 'user_rate_limit', reply: Replies.sendingLimit(decision.limit, decision.retryAt) };
  }

  onRcptTo = (address: SMTPServerAddress, session: SMTPServerSession, done: Done): void => {
    const screening = this.screenings.get(session);
    if (!screening) return this.checkRecipient(address, session, [], done);
    screening.then(
      (listings) => this.checkRecipient(address, session, listings, done),
      () => this.checkRecipient(address, session, [], done),
    );
  };

  private checkRecipient(address: SMTPServerAddress, session: SMTPServerSession, listings: readonly DnsblListing[], done: Done): void {
    const { config } = this.context;
    if (session.envelope.rcptTo.length >= config.limits.maxRecipients) {
      return this.refuse(session, 'too_many_recipients', Replies.tooManyRecipients(), done);
    }
    // A client that keeps guessing recipients on mx (directory harvesting, or brute-forcing an SRS
    // hash through the 250-vs-550 answer) is cut off: after MAX_REFUSED_RECIPIENTS refusals in one
    // session, the next RCPT, whatever its address, gets 421 and the connection closes.
    const refused = this.refusedRecipients.get(session) ?? 0;
    if (this.kind === 'mx' && refused >= MAX_REFUSED_RECIPIENTS) {
      return this.refuse(session, 'too_many_refused_recipients', Replies.tooManyRefusedRecipients(), done);
    }
    const listed = listings.find((listing) => listing.action === 'reject');
    if (listed) {
      const client = session.remoteAddress.replace(/^::ffff:(?=\d+\.)/i, '');
      this.refusedRecipients.set(session, refused + 1);
      const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      this.sessionLog(session).info({ list: listed.name, answers: listed.answers, from, to: address.address }, 'client is on a DNS block list');
      return this.refuse(session, 'dnsbl_listed', Replies.dnsblListed(listed.name, client), done);
    }
    let reply =
      this.kind === 'mx'
        ? checkInboundRecipient(config, address.address)
        : parseMailbox(address.address)
          ? this.context.suppressedRecipient?.(address.address)
          : Replies.badRecipientSyntax(address.address);
    let reason = reply?.reason ?? (reply?.code === 550 ? 'unknown_user' : reply?.enhanced === '5.7.1' ? 'relay_denied' : 'bad_recipient');
    // An SRS address in our domains is a bounce to mail we forwarded: accepted, and delivery returns
    // it to the original sender, only when it comes from the null sender (real bounces do) and its
    // hash and age check out. Anything else gets the same refusal as an unknown user, whether the
    // address is valid or not, so RCPT is no oracle and SRS no open relay (design.md).
    if (this.kind === 'mx' && isSrsAddress(address.address) && (reply === undefined || (reply.code === 550 && reply.enhanced === '5.1.1'))) {
      const fromNullSender = session.envelope.mailFrom !== false && session.envelope.mailFrom.address === '';
      reply = fromNullSender && this.context.inbound?.isReturnAddress(address.address) ? undefined : Replies.unknownUser(address.address);
      reason = fromNullSender ? 'srs_invalid' : 'srs_not_null_sender';
    }
    if (reply) {
      if (this.kind === 'mx') this.refusedRecipients.set(session, refused + 1);
      return this.refuse(session, reason, reply, done);
    }
    this.sessionLog(session).info({ to: address.address }, 'RCPT TO accepted');
    done();
  }

  onData = (stream: SMTPServerDataStream, session: SMTPServerSession, done: (error?: Error | null, message?: string) => void): void => {
    this.receive(stream, session).then(
      (queueId) => done(null, `Ok: queued as ${queueId}`),
      (error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === 'ECONNECTION') {
          // The client left mid-message: nothing was acknowledged and the draft is gone.
          this.sessionLog(session).info({ client: session.remoteAddress }, 'client disconnected during DATA; nothing stored');
          return done(error as Error);
        }
        const reply = error instanceof SmtpReply ? error : Replies.spoolFailed();
        const reason = reply.reason ?? (reply.code === 552 ? 'message_too_big' : reply.code === 554 ? 'bare_line_ending' : reply.code === 550 ? 'dmarc_reject' : reply.enhanced === '4.7.0' ? 'auth_check_failed' : 'spool_error');
        const log = this.sessionLog(session);
        if (reason === 'spool_error') log.error({ err: (error as { cause?: unknown }).cause ?? error }, 'could not spool the message');
        this.refuse(session, reason, reply, done);
      },
    );
  };

  private async receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const { spool, config, metrics } = this.context;
    const transaction = this.transactions.get(session) ?? { queueId: newQueueId(), log: this.sessionLog(session) };
    const envelope: SpoolEnvelope = {
      id: transaction.queueId,
      receivedAt: new Date().toISOString(),
      mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
      rcptTo: session.envelope.rcptTo.map((recipient) => recipient.address),
      listener: this.kind,
      clientAddress: session.remoteAddress,
      ...(typeof session.user === 'string' ? { authUser: session.user } : {}),
      smtpUtf8: session.envelope.smtpUtf8 === true,
      bodyType: session.envelope.bodyType === '8bitmime' ? '8bitmime' : '7bit',
    };
    const received = Buffer.from(receivedHeader(session, config.hostname, envelope.id), 'latin1');
    const inbound = this.kind === 'mx' ? this.context.inbound : undefined;
    const author = envelope.authUser === undefined ? undefined : config.users.find((user) => user.username === envelope.authUser);
    // Content scanning: on mx inside the inspection (its verdict adds headers), on submission from
    // the draft's file before the commit (a refusal only: our users' mail is not stamped).
    const spam = this.context.spam?.marksMessages ? this.context.spam : undefined;
    const scan = spam ? (body: MessageBody) => this.contentScan(spam, session, envelope, body, transaction.log) : undefined;
    const onMx = this.kind === 'mx';
    const { bytes } = await receiveMessage(stream, {
      maxMessageBytes: config.limits.maxMessageBytes,
      openDraft: () => spool.begin(envelope.id),
      prefix: async (draft, inspected) => {
        await draft.writeEnvelope(envelope);
        if (inspected) await draft.write(inspected);
        await draft.write(received);
      },
      ...(onMx && (inbound || scan)
        ? {
            rewrite: (message: Buffer) => {
              const cleaned = removeForgedAuthResults(message, config.hostname);
              return scan ? removeSpamHeaders(cleaned) : cleaned;
            },
            inspect: async (message: Buffer) => {
              const authentication = inbound ? await this.authenticateInbound(inbound, session, envelope, Buffer.concat([received, message]), transaction.log) : Buffer.alloc(0);
              if (!scan) return { headers: authentication };
              const verdict = await scan(Buffer.concat([authentication, received, message]));
              return { headers: Buffer.concat([Buffer.from(verdict.headers, 'latin1'), authentication]), ...(verdict.subject ? { message: replaceSubject(message, verdict.subject) } : {}) };
            },
          }
        : {}),
      ...(!onMx && scan ? { vet: async (body: MessageBody) => void (await scan(body)) } : {}),
      ...(author ? { checkHeaders: (headerSection: string) => headerFromRefusal(author.allowedFrom, headerSection) } : {}),
    });
    metrics.accepted.inc({ listener: this.kind });
    metrics.receivedBytes.inc({ listener: this.kind }, bytes);
    metrics.spoolMessages.inc();
    transaction.log.info({ from: envelope.mailFrom, rcpt: envelope.rcptTo.length, bytes }, 'message spooled');
    this.context.onSpooled?.(envelope);
    return envelope.id;
  }

  /**
   * rspamd's verdict (and flag-zone DNSBL hits) for the message as it will be stored. Refusals are
   * thrown as SmtpReplies, so nothing is spooled; otherwise the header lines to add.
   */
  private async contentScan(spam: SpamFilter, session: SMTPServerSession, envelope: SpoolEnvelope, body: MessageBody, log: Logger): Promise<{ headers: string; subject?: string }> {
    const input: ContentScanInput = {
      listener: this.kind,
      queueId: envelope.id,
      clientAddress: session.remoteAddress,
      helo: session.hostNameAppearsAs || session.remoteAddress,
      mailFrom: envelope.mailFrom,
      rcptTo: envelope.rcptTo,
      ...(envelope.authUser !== undefined ? { authUser: envelope.authUser } : {}),
      body,
      listings: (await this.screenings.get(session)?.catch(() => [])) ?? [],
      log,
    };
    const verdict = await spam.scan(input);
    if ('reason' in verdict) {
      if (verdict.action === 'reject') throw Replies.spamRejected(verdict.reason);
      throw verdict.action === 'soft_reject' ? Replies.spamSoftReject(verdict.reason) : Replies.spamScanUnavailable();
    }
    return { headers: verdict.headers, ...(verdict.subject ? { subject: verdict.subject } : {}) };
  }

  /** SPF/DKIM/DMARC/ARC at DATA, before anything is stored: refuse p=reject failures (550 5.7.1). */
  private async authenticateInbound(inbound: InboundHooks, session: SMTPServerSession, envelope: SpoolEnvelope, message: Buffer, log: Logger): Promise<Buffer> {
    const recipient = envelope.rcptTo[0] ?? '';
    let verdict: Awaited<ReturnType<InboundHooks['check']>>;
    try {
      verdict = await inbound.check({
        message,
        clientAddress: session.remoteAddress,
        helo: session.hostNameAppearsAs || session.remoteAddress,
        mailFrom: envelope.mailFrom,
        recipientDomain: recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase(),
      });
    } catch (error) {
      log.error({ err: error }, 'inbound authentication failed unexpectedly');
      throw InboundReplies.authCheckFailed();
    }
    this.context.metrics.inbound.inc({ dmarc: verdict.dmarc, action: verdict.action });
    log.info({ spf: verdict.spf, dkim: verdict.dkim, dmarc: verdict.dmarc, arc: verdict.arc, action: verdict.action }, 'inbound authentication');
    if (verdict.action === 'reject') throw InboundReplies.dmarcReject(verdict.dmarcDomain ?? 'the sender domain');
    // Written into the envelope line with the message: delivery decides on it after any restart.
    envelope.inbound = {
      spf: verdict.spf,
      ...(verdict.alignedDkim ? { alignedDkim: verdict.alignedDkim } : {}),
      senderAuthenticated: verdict.senderAuthenticated,
      arc: verdict.arc,
      authResults: verdict.authResults,
    };
    return Buffer.from(verdict.headers, 'latin1');
  }
}
