/**
 * The SMTP conversation of one listener: connect, AUTH, MAIL, RCPT, DATA, close. Every refusal is
 * an SmtpReply (code + enhanced status); a handler that throws unexpectedly answers 451 4.3.0,
 * never a silent 550.
 */
import type {
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerDataStream,
  SMTPServerSession,
} from 'smtp-server';
import type { Logger } from '../ops/logger';
import type { Mailbox } from '../mail/address';
import type { DnsblListing } from '../spam/spam-filter';
import { newQueueId } from '../spool/queue-id';
import { authenticate } from './auth-handler';
import { recipientAddress, senderAddress } from './envelope-address';
import { DataHandler } from './data-handler';
import type { OAuthLoginOutcome, OAuthLoginRequest } from './oauth/sasl';
import { oauthPrincipal, passwordPrincipal, type Principal } from './principal';
import { checkInboundRecipient, isSrsAddress, isTrusted, senderAllowed } from './policy';
import { Replies, SmtpReply } from './reply';
import { unsupportedParameter } from './smtp-parameters';
import type { IntakeContext, ListenerKind } from './context';
import type { ListenerProfile } from './listener-profile';


interface Transaction {
  queueId: string;
  log: Logger;
  /** The envelope as normalised at the edge (envelope-address.ts): what every later decision uses. */
  mailFrom: string;
  rcptTo: string[];
}

type Done = (error?: Error | null) => void;

export class SessionHandlers {
  private readonly transactions = new WeakMap<SMTPServerSession, Transaction>();
  /** Refused RCPTs per session (smtp-server keeps one session object per connection, RSET included). */
  private readonly refusedRecipients = new WeakMap<SMTPServerSession, number>();
  /** DNSBL lookups started at connect (mx), awaited at RCPT and DATA. */
  private readonly screenings = new WeakMap<SMTPServerSession, Promise<DnsblListing[]>>();
  /** Who each authenticated session speaks for (password or OAuth user). */
  private readonly principals = new WeakMap<SMTPServerSession, Principal>();

  private readonly data: DataHandler;
  private readonly kind: ListenerKind;

  constructor(
    private readonly profile: ListenerProfile,
    private readonly context: IntakeContext,
    /** Called once a transaction's final reply is out (a draining relay then closes the session). */
    private readonly afterTransaction: (session: SMTPServerSession) => void = () => undefined,
  ) {
    this.kind = profile.kind;
    this.data = new DataHandler(profile, context);
  }

  private sessionLog(session: SMTPServerSession): Logger {
    return this.transactions.get(session)?.log ?? this.context.logger.child({ listener: this.kind, session: session.id });
  }

  /** Every refusal: counted and logged under the reason the reply carries (intake/reply.ts). */
  private refuse(session: SMTPServerSession, reply: SmtpReply, done: Done): void {
    this.context.metrics.rejected.inc({ listener: this.kind, reason: reply.reason });
    this.sessionLog(session).info({ reason: reply.reason, reply: reply.toString(), client: session.remoteAddress }, 'refused');
    done(reply);
  }

  onConnect = (session: SMTPServerSession, done: Done): void => {
    // Connection limits were applied when the TCP connection was accepted (listeners.ts).
    // RFC 8314 / RFC 4954: AUTH is offered on submission only once the session is encrypted.
    if (this.profile.auth === 'after-starttls') session.disabledCommands = ['AUTH'];
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
    if (!this.profile.inboundChecks || !spam?.screensClients || isTrusted(this.context.trusted, session.remoteAddress)) return;
    this.screenings.set(session, spam.screen(session.remoteAddress));
  }

  onSecure = (_socket: unknown, session: SMTPServerSession, done: Done): void => {
    if (this.profile.auth === 'after-starttls') session.disabledCommands = [];
    done();
  };

  onAuth = (
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    done: (error: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): void => {
    authenticate(this.context.auth, this.kind, auth, session, this.sessionLog(session)).then(
      (result) => {
        if (result instanceof SmtpReply) return done(result);
        const user = this.context.config.users.find((candidate) => candidate.username === result);
        if (user) this.principals.set(session, passwordPrincipal(user));
        done(null, { user: result });
      },
      (error: unknown) => {
        this.sessionLog(session).error({ err: error }, 'authentication failed unexpectedly');
        done(Replies.authTemporarilyRefused());
      },
    );
  };

  /**
   * SASL XOAUTH2 / OAUTHBEARER (oauth/sasl.ts speaks the protocol): the token decides. A bad token
   * counts toward the same AUTH throttles as a bad password, and its client gets the RFC 7628
   * error challenge, then 535 5.7.8.
   */
  oauthLogin = async (request: OAuthLoginRequest, session: SMTPServerSession): Promise<OAuthLoginOutcome> => {
    const { auth, metrics, oauth } = this.context;
    const ip = session.remoteAddress;
    const log = this.sessionLog(session);
    const account = request.user ?? '';
    const gate = auth.guard.gate(ip, account);
    if (!gate.allowed) {
      metrics.authThrottled.inc({ listener: this.kind, reason: gate.reason });
      log.warn({ client: ip, user: request.user, method: request.method, reason: gate.reason }, 'AUTH refused without a token check: too many failures');
      return { reply: gate.reason === 'per_ip' ? Replies.authThrottled() : Replies.authTemporarilyRefused() };
    }
    if (!oauth?.enabled) return { reply: Replies.authMechanismUnavailable() };
    const verdict = await oauth.verify(request.token, request.user);
    if (verdict.ok) {
      auth.guard.recordSuccess(ip, verdict.identity.username);
      this.principals.set(session, oauthPrincipal(verdict.identity));
      log.info({ user: verdict.identity.username, method: request.method, issuer: verdict.identity.issuer }, 'authenticated');
      return { user: verdict.identity.username };
    }
    metrics.authFailures.inc({ listener: this.kind });
    metrics.oauthFailures.inc({ reason: verdict.reason });
    // The token itself is a credential: never logged, only why it failed.
    log.warn({ client: ip, user: request.user, method: request.method, issuer: verdict.issuer, reason: verdict.reason, detail: verdict.detail }, 'AUTH failed');
    await auth.guard.recordFailure(ip, account);
    return auth.guard.isBlocked(ip) ? { reply: Replies.authThrottled() } : { challenge: oauth.errorChallenge(verdict.issuer) };
  };

  onMailFrom = (address: SMTPServerAddress, session: SMTPServerSession, done: Done): void => {
    if (this.context.isDraining()) return this.refuse(session, Replies.shuttingDown(), done);
    const queueId = newQueueId();
    const log = this.context.logger.child({ listener: this.kind, session: session.id, queueId });
    const sender = senderAddress(address.address, session.envelope.smtpUtf8 === true);
    this.transactions.set(session, { queueId, log, mailFrom: sender.ok ? sender.address : '', rcptTo: [] });
    if (!sender.ok) return this.refuse(session, sender.reply, done);
    // RFC 1870 6.1: a declared size that cannot fit now is refused before any byte is sent.
    const declared = Number((address.args || {}).SIZE ?? 0);
    if (declared > 0 && !this.context.budget.fits(declared)) return this.refuse(session, Replies.inFlightBudgetExceeded(), done);
    const refusal = this.senderRefusal(sender.address, sender.mailbox, session) ?? this.sendingLimitRefusal(session);
    if (refusal) return this.refuse(session, refusal, done);
    log.info({ from: sender.address, client: session.remoteAddress, user: session.user }, 'MAIL FROM accepted');
    done();
  };

  private senderRefusal(sender: string, mailbox: Mailbox | undefined, session: SMTPServerSession): SmtpReply | undefined {
    if (this.profile.recipients === 'our-domains') return undefined;
    const username = typeof session.user === 'string' ? session.user : undefined;
    if (username === undefined) {
      if (isTrusted(this.context.trusted, session.remoteAddress)) return undefined;
      return Replies.authRequired();
    }
    const principal = this.principals.get(session);
    if (!principal || !senderAllowed(principal.allowedFrom, mailbox)) return Replies.senderNotAllowed(sender);
    return undefined;
  }

  /** Authenticated users' messages-per-hour limit: each accepted MAIL FROM takes a turn. */
  private sendingLimitRefusal(session: SMTPServerSession): SmtpReply | undefined {
    const principal = this.principals.get(session);
    if (this.profile.recipients === 'our-domains' || !principal || !this.context.spam) return undefined;
    const decision = this.context.spam.takeSendingTurn(principal.username, principal.maxMessagesPerHour);
    return decision.allowed ? undefined : Replies.sendingLimit(decision.limit, decision.retryAt);
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
    const parameter = unsupportedParameter('RCPT', address.args, false);
    if (parameter) return this.refuse(session, parameter, done);
    if (session.envelope.rcptTo.length >= config.limits.maxRecipients) {
      return this.refuse(session, Replies.tooManyRecipients(), done);
    }
    // A client that keeps guessing recipients on mx (directory harvesting, or brute-forcing an SRS
    // hash through the 250-vs-550 answer) is cut off: after refusedRecipientLimit refusals in one
    // session, the next RCPT, whatever its address, gets 421 and the connection closes.
    const refused = this.refusedRecipients.get(session) ?? 0;
    const limit = this.profile.refusedRecipientLimit;
    if (limit !== undefined && refused >= limit) {
      return this.refuse(session, Replies.tooManyRefusedRecipients(), done);
    }
    const listed = listings.find((listing) => listing.action === 'reject');
    if (listed) {
      const client = session.remoteAddress.replace(/^::ffff:(?=\d+\.)/i, '');
      this.refusedRecipients.set(session, refused + 1);
      const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      this.sessionLog(session).info({ list: listed.name, answers: listed.answers, from, to: address.address }, 'client is on a DNS block list');
      return this.refuse(session, Replies.dnsblListed(listed.name, client), done);
    }
    const transaction = this.transactions.get(session);
    const ourDomains = this.profile.recipients === 'our-domains';
    const recipient = recipientAddress(address.address, session.envelope.smtpUtf8 === true, ourDomains ? config.domains[0] : undefined);
    let reply = !recipient.ok ? recipient.reply : ourDomains && recipient.mailbox ? checkInboundRecipient(config, recipient.mailbox) : this.context.suppressedRecipient?.(recipient.address);
    // An SRS address in our domains is a bounce to mail we forwarded: accepted, and delivery returns
    // it to the original sender, only when it comes from the null sender (real bounces do) and its
    // hash and age check out. Anything else gets the same refusal as an unknown user, whether the
    // address is valid or not, so RCPT is no oracle and SRS no open relay (docs/contracts.md "Relay behaviour").
    if (ourDomains && recipient.ok && isSrsAddress(recipient.address) && (reply === undefined || (reply.code === 550 && reply.enhanced === '5.1.1'))) {
      const fromNullSender = transaction?.mailFrom === '';
      const refusal = Replies.unknownUser(recipient.address).because(fromNullSender ? 'srs_invalid' : 'srs_not_null_sender');
      reply = fromNullSender && this.context.inbound?.isReturnAddress(recipient.address) ? undefined : refusal;
    }
    if (reply || !recipient.ok || !transaction) {
      if (limit !== undefined) this.refusedRecipients.set(session, refused + 1);
      return this.refuse(session, reply ?? Replies.spoolFailed(), done);
    }
    if (!transaction.rcptTo.some((known) => known.toLowerCase() === recipient.address.toLowerCase())) transaction.rcptTo.push(recipient.address);
    this.sessionLog(session).info({ to: recipient.address }, 'RCPT TO accepted');
    done();
  }

  onData = (stream: SMTPServerDataStream, session: SMTPServerSession, done: (error?: Error | null, message?: string) => void): void => {
    const transaction = this.transactions.get(session);
    if (!transaction) {
      stream.resume();
      return this.refuse(session, Replies.spoolFailed(), done);
    }
    const listings = () => this.screenings.get(session) ?? Promise.resolve([]);
    void this.data.handle(stream, session, transaction, listings, this.principals.get(session)).then((outcome) => {
      if (outcome.ok) done(null, `Ok: queued as ${outcome.queueId}`);
      else if ('disconnected' in outcome) {
        // The client left mid-message: nothing was acknowledged and the draft is gone.
        this.sessionLog(session).info({ client: session.remoteAddress }, 'client disconnected during DATA; nothing stored');
        return done(Object.assign(new Error('client disconnected'), { code: 'ECONNECTION' }));
      } else this.refuse(session, outcome.reply, done);
      this.afterTransaction(session);
    });
  };
}
