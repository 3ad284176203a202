/**
 * The spam filter as the intake sees it: one object built from the config, asked at three points of
 * a session. At connect (mx only, never trusted networks or authenticated users): which DNS block
 * lists have the client. At MAIL FROM (authenticated users): the sending limit. At DATA (every
 * listener): rspamd's verdict on the message, as an action plus the header lines to add.
 *
 * Mail we receive on mx gets verdict headers; mail our own users send (submission) is refused when
 * rspamd would reject it, but never stamped: a receiver judges our outgoing mail by its own filter,
 * as rspamd's milter_headers does by default (`skip_authenticated`).
 */
import type { RelayConfig } from '../config/schema';
import { parseDuration } from '../config/duration';
import type { Logger } from '../ops/logger';
import type { RelayMetrics } from '../ops/metrics';
import { DnsblChecker, type DnsblListing } from './dnsbl';
import { SendingRateLimiter } from './rate-limit';
import { RspamdClient, RspamdError, type MessageBody, type RspamdResult } from './rspamd-client';
import { dnsblHeader, judge, refusalText, spamHeaders, UNSCANNED_HEADER, type Thresholds } from './verdict';

export type { DnsblListing } from './dnsbl';
export type { MessageBody } from './rspamd-client';
export type { RateDecision } from './rate-limit';

export interface ContentScanInput {
  /** For metric labels only. */
  listener: 'mx' | 'submission' | 'submissions';
  /** What the message is (the listener profile's origin): inbound mail is stamped, our users' is not. */
  origin: 'inbound' | 'submission';
  queueId: string;
  clientAddress: string;
  helo: string;
  mailFrom: string;
  rcptTo: readonly string[];
  authUser?: string;
  /** The message as it will be stored (our trace and authentication headers included). */
  body: MessageBody;
  /** The client's `flag` DNSBL listings (from `screen`), which flag the message too. */
  listings: readonly DnsblListing[];
  log: Logger;
}

export type ContentVerdict =
  | { action: 'accept' | 'flag' | 'unscanned'; headers: string; subject?: string; score?: number }
  | { action: 'reject' | 'soft_reject' | 'tempfail'; reason: string; score?: number };

export class SpamFilter {
  private readonly dnsbl: DnsblChecker;
  private readonly rspamd?: RspamdClient;
  private readonly thresholds?: Thresholds & { onError: 'accept' | 'tempfail' };
  private readonly limiter: SendingRateLimiter;
  private readonly hostname: string;
  private readonly summary: Record<string, unknown>;

  constructor(
    config: RelayConfig,
    logger: Logger,
    private readonly metrics: RelayMetrics,
    now: () => number = Date.now,
    /** The filter this one replaces at a config reload: its sending history carries over. */
    previous?: SpamFilter,
  ) {
    const { spam } = config;
    this.hostname = config.hostname;
    this.dnsbl = new DnsblChecker({ zones: spam.dnsbl, servers: config.delivery.dnsServers, timeoutMs: parseDuration(spam.dnsblTimeout), logger, metrics, now });
    if (spam.rspamd) {
      this.rspamd = new RspamdClient(spam.rspamd.url, parseDuration(spam.rspamd.timeout));
      this.thresholds = { flagScore: spam.rspamd.flagScore, rejectScore: spam.rspamd.rejectScore, onError: spam.rspamd.onError };
    }
    this.summary = {
      dnsbl: spam.dnsbl.map((zone) => `${this.dnsbl.nameOf(zone.zone)}=${zone.action}`),
      rspamd: spam.rspamd ? { url: spam.rspamd.url, flagScore: spam.rspamd.flagScore, rejectScore: spam.rspamd.rejectScore, onError: spam.rspamd.onError } : 'off',
      maxMessagesPerUserPerHour: config.limits.maxMessagesPerUserPerHour ?? 'unlimited',
    };
    const perUser = new Map(config.users.map((user) => [user.username, user.maxMessagesPerHour ?? config.limits.maxMessagesPerUserPerHour]));
    // Users not in `users` (named by an OAuth token) get the global limit.
    const limitFor = (user: string) => (perUser.has(user) ? perUser.get(user) : config.limits.maxMessagesPerUserPerHour);
    this.limiter = previous ? previous.limiter.withLimits(limitFor) : new SendingRateLimiter(limitFor, now);
  }

  /** Logs what is on, and warns at once if rspamd does not answer (mail still flows per onError). */
  async announce(logger: Logger): Promise<void> {
    logger.info(this.summary, 'spam filter');
    if (this.rspamd && !(await this.rspamd.ping())) {
      logger.warn({ url: this.rspamd.url, onError: this.thresholds?.onError }, 'rspamd does not answer /ping yet; messages are handled per spam.rspamd.onError until it does');
    }
  }

  /** Whether block lists are configured (connect-time screening has work to do). */
  get screensClients(): boolean {
    return this.dnsbl.enabled;
  }

  /** Whether mx messages may get verdict headers, so senders' own X-Spam* fields must go. */
  get marksMessages(): boolean {
    return this.dnsbl.enabled || this.rspamd !== undefined;
  }

  /** The lists that have this client. Never rejects: a failing list counts as "not listed". */
  screen(clientAddress: string): Promise<DnsblListing[]> {
    return this.dnsbl.check(clientAddress);
  }

  /** Counts a message for an authenticated user, or says when it may send again (`limit` overrides the configured one). */
  takeSendingTurn(user: string, limit?: number): ReturnType<SendingRateLimiter['take']> {
    const decision = limit === undefined ? this.limiter.take(user) : this.limiter.take(user, limit);
    if (!decision.allowed) this.metrics.userRateLimited.inc({ user });
    return decision;
  }

  async scan(input: ContentScanInput): Promise<ContentVerdict> {
    const inbound = input.origin === 'inbound';
    const flags = input.listings.filter((listing) => listing.action === 'flag').map((listing) => dnsblHeader(listing.name, listing.answers));
    const verdict = await this.verdict(input, inbound, flags);
    this.metrics.spamVerdicts.inc({ listener: input.listener, action: verdict.action });
    return verdict;
  }

  private async verdict(input: ContentScanInput, inbound: boolean, flags: string[]): Promise<ContentVerdict> {
    if (!this.rspamd || !this.thresholds) {
      return flags.length > 0 && inbound ? { action: 'flag', headers: spamHeaders(undefined, { flagScore: 0, rejectScore: null }, flags) } : { action: 'accept', headers: '' };
    }
    const started = process.hrtime.bigint();
    let result: RspamdResult;
    try {
      result = await this.rspamd.check({
        body: input.body,
        clientAddress: input.clientAddress,
        helo: input.helo,
        mailFrom: input.mailFrom,
        rcptTo: input.rcptTo,
        queueId: input.queueId,
        mtaName: this.hostname,
        ...(input.authUser !== undefined ? { user: input.authUser } : {}),
      });
    } catch (error) {
      const reason = error instanceof RspamdError ? error.reason : 'unavailable';
      this.metrics.rspamdErrors.inc({ reason });
      input.log.warn({ err: error, reason, onError: this.thresholds.onError }, 'rspamd scan failed');
      if (this.thresholds.onError === 'tempfail') return { action: 'tempfail', reason };
      if (!inbound) return { action: 'unscanned', headers: '' };
      return { action: 'unscanned', headers: flags.length > 0 ? spamHeaders(undefined, this.thresholds, [...flags, 'X-Spam-Scanner: unscanned']) : UNSCANNED_HEADER };
    } finally {
      this.metrics.rspamdLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
    const action = judge(result, this.thresholds);
    const top = [...result.symbols].sort((a, b) => Math.abs(b.score) - Math.abs(a.score)).slice(0, 10).map((symbol) => `${symbol.name}(${symbol.score})`);
    input.log.info({ action, score: result.score, rspamdAction: result.action, symbols: top }, 'spam scan');
    if (action === 'reject' || action === 'soft_reject') return { action, reason: refusalText(result, this.thresholds), score: result.score };
    if (!inbound) return { action, headers: '', score: result.score };
    if (action === 'accept' && flags.length === 0) return { action, headers: '', score: result.score };
    return {
      action: 'flag',
      headers: spamHeaders(result, this.thresholds, flags),
      score: result.score,
      ...(result.action === 'rewrite subject' && result.subject ? { subject: result.subject } : {}),
    };
  }
}
