/**
 * DNS block lists at connect (RFC 5782): every configured zone is asked, in parallel, whether the
 * client's address is listed, through the relay's resolver (`delivery.dnsServers`, else the
 * system's) with a time limit. Answers are cached a few minutes, so a bot that reconnects costs no
 * new queries. Anything but a clear "listed" -- a timeout, a DNS error, a refused query -- counts
 * as not listed: a broken list must not stop mail.
 */
import { promises as dns } from 'node:dns';
import type { BlockList } from 'node:net';
import { returnCodeList, type DnsblZoneConfig } from '../config/spam-schema';
import type { Logger } from '../ops/logger';
import type { RelayMetrics } from '../ops/metrics';
import { answerMeaning, dnsblQueryName, plainAddress, zoneDisplayName, type AnswerMeaning } from './dnsbl-query';

export interface DnsblListing {
  /** The configured zone (may hold a DQS key: never show it). */
  zone: string;
  /** What replies, logs and metrics call the list. */
  name: string;
  action: 'reject' | 'flag';
  /** The A records that listed the client, e.g. ['127.0.0.2']. */
  answers: string[];
}

interface Zone extends DnsblZoneConfig {
  displayName: string;
  codes?: BlockList;
}

type Outcome = { meaning: AnswerMeaning; answers: string[] } | { meaning: 'error'; code: string };

export interface DnsblOptions {
  zones: readonly DnsblZoneConfig[];
  /** `delivery.dnsServers`; undefined: the system resolver. */
  servers?: readonly string[];
  timeoutMs: number;
  logger: Logger;
  metrics: RelayMetrics;
  now?: () => number;
}

const CACHE_MS = 5 * 60_000;
/** A zone that errs is asked again after this, not on every connection meanwhile. */
const ERROR_CACHE_MS = 30_000;
const CACHE_ENTRIES = 10_000;
/** Errors are logged at most this often per zone; the metric counts every one. */
const ERROR_LOG_INTERVAL_MS = 10 * 60_000;

export class DnsblChecker {
  private readonly zones: Zone[];
  private readonly resolver: dns.Resolver;
  private readonly cache = new Map<string, { expires: number; outcome: Promise<Outcome> }>();
  private readonly refusedLogged = new Set<string>();
  private readonly unexpectedLogged = new Set<string>();
  private readonly errorLoggedAt = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: DnsblOptions) {
    this.zones = options.zones.map((zone) => ({ ...zone, displayName: zone.name ?? zoneDisplayName(zone.zone), codes: returnCodeList(zone.returnCodes) }));
    // One try per query, bounded by the time limit; a second server (if any) is c-ares' to rotate to.
    this.resolver = new dns.Resolver({ timeout: options.timeoutMs, tries: 1 });
    if (options.servers && options.servers.length > 0) this.resolver.setServers([...options.servers]);
    this.now = options.now ?? Date.now;
  }

  /** The display name of a configured zone. */
  nameOf(zone: string): string {
    return this.zones.find((entry) => entry.zone === zone)?.displayName ?? zoneDisplayName(zone);
  }

  get enabled(): boolean {
    return this.zones.length > 0;
  }

  /** The lists that have the client, in config order. Never rejects. */
  async check(clientAddress: string): Promise<DnsblListing[]> {
    const address = plainAddress(clientAddress);
    const results = await Promise.all(this.zones.map(async (zone) => ({ zone, outcome: await this.ask(zone, address) })));
    const listed: DnsblListing[] = [];
    for (const { zone, outcome } of results) {
      if (outcome.meaning === 'listed') {
        this.options.metrics.dnsblHits.inc({ zone: zone.displayName, action: zone.action });
        listed.push({ zone: zone.zone, name: zone.displayName, action: zone.action, answers: outcome.answers });
      } else {
        this.report(zone, address, outcome);
      }
    }
    return listed;
  }

  private ask(zone: Zone, address: string): Promise<Outcome> {
    const name = dnsblQueryName(address, zone.zone);
    if (!name) return Promise.resolve({ meaning: 'not_listed', answers: [] });
    const key = `${name}\n${zone.returnCodes?.join(',') ?? ''}`;
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.expires > now) return hit.outcome;
    const outcome = this.query(name, zone);
    this.cache.set(key, { expires: now + CACHE_MS, outcome });
    void outcome.then((result) => {
      if (result.meaning === 'error') this.cache.set(key, { expires: this.now() + ERROR_CACHE_MS, outcome });
    });
    if (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    return outcome;
  }

  private async query(name: string, zone: Zone): Promise<Outcome> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve({ meaning: 'error', code: 'ETIMEOUT' }), this.options.timeoutMs);
    });
    const lookup = this.resolver.resolve4(name).then(
      (answers): Outcome => ({ meaning: answerMeaning(answers, zone.codes), answers }),
      (error: NodeJS.ErrnoException): Outcome =>
        // NXDOMAIN / no A record: not listed (RFC 5782 §2.1).
        error.code === 'ENOTFOUND' || error.code === 'ENODATA' ? { meaning: 'not_listed', answers: [] } : { meaning: 'error', code: error.code ?? 'EUNKNOWN' },
    );
    try {
      return await Promise.race([lookup, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private report(zone: Zone, address: string, outcome: Outcome): void {
    const { logger, metrics } = this.options;
    if (outcome.meaning === 'refused') {
      metrics.dnsblRefused.inc({ zone: zone.displayName });
      if (this.refusedLogged.has(zone.zone)) return;
      this.refusedLogged.add(zone.zone);
      logger.warn(
        { zone: zone.displayName, answers: outcome.answers },
        'DNSBL refused our query (answer in 127.255.255.0/24: queries through public or cloud resolvers are blocked); treating clients as not listed. Fix: a local resolver on the host or a DQS key (docs/deploy.md "Spam filtering")',
      );
    } else if (outcome.meaning === 'unexpected') {
      if (this.unexpectedLogged.has(zone.zone)) return;
      this.unexpectedLogged.add(zone.zone);
      logger.warn({ zone: zone.displayName, client: address, answers: outcome.answers }, 'DNSBL answered outside 127.0.0.0/8, which no working list does; ignoring it (is the zone still in service?)');
    } else if (outcome.meaning === 'error') {
      metrics.dnsblErrors.inc({ zone: zone.displayName });
      const last = this.errorLoggedAt.get(zone.zone);
      if (last !== undefined && this.now() - last < ERROR_LOG_INTERVAL_MS) return;
      this.errorLoggedAt.set(zone.zone, this.now());
      logger.warn({ zone: zone.displayName, code: outcome.code }, 'DNSBL query failed; treating the client as not listed');
    }
  }
}
