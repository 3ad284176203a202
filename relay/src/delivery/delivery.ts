/**
 * The delivery half of the relay: picks up every queued message (at start and as the intake spools
 * them), attempts them on schedule, answers `mxkit queue retry` requests, and offers the intake an
 * inbound authenticator and an SRS check (injected by relay.ts, so intake never imports delivery).
 */
import { EventEmitter } from 'node:events';
import type { KeyObject } from 'node:crypto';
import { parseDuration } from '../config/duration';
import { readNamedFile, readNamedSecretLine } from '../config/named-file';
import { ConfigError, type RelayConfig } from '../config/schema';
import type { Logger } from '../ops/logger';
import type { RelayMetrics } from '../ops/metrics';
import type { SpoolEnvelope } from '../spool/envelope';
import type { Spool } from '../spool/spool';
import { spoolLayout } from '../spool/layout';
import { attemptMessage } from './attempt';
import { DELAY_WARNING_MS, type AttemptContext } from './attempt-context';
import { dkimSigners } from './dkim';
import { InboundAuthenticator } from './inbound';
import { IntakeFirst, type IntakeFirstOptions } from './intake-first';
import { LoadBudget } from './load-budget';
import { MtaStsPolicies, type MtaStsFetchOverride } from './mta-sts';
import { Port25Probe } from './port25-probe';
import { recoverQueue, type RecoveredMessage } from './recovery';
import { DeliveryResolver } from './resolver';
import { Scheduler } from './scheduler';
import { Srs } from './srs';
import { Throttle } from './throttle';
import { TransmitPool } from './transmit-pool';
import type { Smarthost } from './transport';

/** Internal knobs for tests; never read from the config file. */
export interface DeliveryHooks {
  /** Fetch MTA-STS policies from here instead of https://mta-sts.<domain>/ (loopback test servers). */
  mtaSts?: MtaStsFetchOverride;
  /** Extra CAs trusted where TLS is verified (MTA-STS enforce, smarthost). */
  tlsCa?: string[];
  /** How often `mxkit queue retry` requests are picked up (default 500 ms). */
  controlPollMs?: number;
  /** When the "delayed" DSN goes out (default DELAY_WARNING_MS, 4 h; tests shorten it). */
  delayWarningMs?: number;
  /** Per connection attempt of the port-25 probe (default 10 s). */
  port25TimeoutMs?: number;
  /** The length of the throttle's "minute" (default 60 s; tests compress time). */
  throttleMinuteMs?: number;
  /** Delivery worker threads (default: transmit-pool.ts; 0 runs transactions in place). */
  transmitWorkers?: number;
  /** Intake first's thresholds and load meter (tests make a burst without saturating a core). */
  intakeFirst?: Omit<IntakeFirstOptions, 'onChange'>;
}

/** How often the failed list is pruned of entries past delivery.failedRetention. */
const FAILED_PRUNE_MS = 3_600_000;

/** Per-group session limits are delivery.throttle's (throttle.ts); these bound the whole relay. */
// bytesLoaded: message bytes attempts hold in memory at once, copies counted (load-budget.ts).
export const LIMITS = { messagesInFlight: 32, sessionsTotal: 64, bytesLoaded: 64 * 1024 * 1024 } as const;

export interface Delivery {
  /** Typed in events.ts. */
  events: EventEmitter;
  /** The current config's authenticator (a reload replaces it). */
  readonly inbound: InboundAuthenticator;
  srs: Srs;
  /** Called by the intake once a message is durably spooled. */
  onSpooled(envelope: SpoolEnvelope): void;
  /**
   * Schedules the queue found at start (recovery.ts), in the background of a running relay;
   * resolves with how many messages it found. `found` hears of each batch.
   */
  recover(found?: (batch: readonly RecoveredMessage[]) => void): Promise<number>;
  /** Attempts queued messages now (all, or one id). */
  retryNow(id?: string): void;
  /**
   * Checks a reloaded config's delivery settings (DKIM keys, smarthost password file) and returns
   * the step that switches to them; nothing changes until it is called. Attempts already running
   * finish with the settings they started with. The throttle, the resolver and the port-25 probe
   * stay as started (their settings are restart-only: config/reload.ts).
   */
  prepare(config: RelayConfig, dkimKeys: ReadonlyMap<string, KeyObject>): Promise<() => void>;
  /** The outbound port-25 probe (direct delivery with delivery.port25Probe set). */
  port25?: Port25Probe;
  /** Deletes failed-list entries past their retention; returns how many. */
  pruneFailed(now?: Date): Promise<number>;
  stop(timeoutMs: number): Promise<void>;
}

export interface DeliveryDeps {
  config: RelayConfig;
  dkimKeys: ReadonlyMap<string, KeyObject>;
  spool: Spool;
  logger: Logger;
  metrics: RelayMetrics;
  hooks?: DeliveryHooks;
  /** Stores mail for the relay's own report and complaint mailboxes (reports/sink.ts). */
  storeLocally?: AttemptContext['storeLocally'];
}

/** What a config decides about delivery, built before it is used so a bad reload changes nothing. */
interface Settings {
  context: AttemptContext;
  inbound: InboundAuthenticator;
}

export async function startDelivery(deps: DeliveryDeps): Promise<Delivery> {
  const { config, spool, metrics } = deps;
  const logger = deps.logger.child({ component: 'delivery' });
  const resolver = new DeliveryResolver(config.delivery.dnsServers);
  const signers = dkimSigners(config, deps.dkimKeys);
  const srs = await srsFor(config, spool);
  const smarthost = await readSmarthost(config);
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const throttle = new Throttle({
    config: config.delivery.throttle,
    smarthost: smarthost !== undefined,
    resolver,
    statePath: spoolLayout(config.spoolDir).throttle,
    logger,
    metrics: metrics.deliverability,
    events,
    totalSessions: LIMITS.sessionsTotal,
    ...(deps.hooks?.throttleMinuteMs ? { minuteMs: deps.hooks.throttleMinuteMs } : {}),
  });
  await throttle.load();

  // Messages this run spooled itself while the start-up queue is still being recovered: the
  // recovery may list them too, and must not count or schedule them a second time.
  let seenThisRun: Set<string> | undefined = new Set<string>();
  let stopping = false;
  const late: { scheduler?: Scheduler } = {};
  // Outbound transactions (signing, SMTP) on worker threads: intake keeps the main thread.
  const transmitPool = new TransmitPool({ logger, ...(deps.hooks?.transmitWorkers !== undefined ? { workers: deps.hooks.transmitWorkers } : {}) });
  const mtaSts = new MtaStsPolicies(resolver, logger, deps.hooks?.mtaSts, config.delivery.allowPrivateAddresses);
  const build = (next: RelayConfig, nextSigners: ReturnType<typeof dkimSigners>, nextSmarthost: Smarthost | undefined): Settings => {
    const context: AttemptContext = {
      config: next,
      spool,
      logger,
      metrics,
      events,
      signers: nextSigners,
      srs,
      throttle,
      ...(deps.storeLocally ? { storeLocally: deps.storeLocally } : {}),
      transport: {
        heloName: next.hostname,
        port: next.delivery.port,
        ...(nextSmarthost ? { smarthost: nextSmarthost } : {}),
        resolver,
        mtaSts,
        allowPrivateAddresses: next.delivery.allowPrivateAddresses,
        logger,
        ...(deps.hooks?.tlsCa ? { ca: deps.hooks.tlsCa } : {}),
        transmit: (job) => transmitPool.send(job),
      },
      retryScheduleMs: next.delivery.retrySchedule.map(parseDuration),
      maxQueueTimeMs: parseDuration(next.delivery.maxQueueTime),
      failedRetentionMs: parseDuration(next.delivery.failedRetention),
      delayWarningMs: deps.hooks?.delayWarningMs ?? DELAY_WARNING_MS,
      scheduleNew: (envelope) => {
        spool.state.markFresh(envelope.id);
        seenThisRun?.add(envelope.id);
        late.scheduler?.schedule(envelope.id);
      },
    };
    return { context, inbound: new InboundAuthenticator(next.hostname, resolver, nextSigners) };
  };
  let settings = build(config, signers, smarthost);
  const loadBudget = new LoadBudget(LIMITS.bytesLoaded);
  // An attempt reserves what it will hold (message size times copiesHeld) once it knows its
  // destination groups, and gives it back here when it ends, however it ends. Each attempt takes
  // the settings current when it starts, and keeps them to its end.
  const attempt = async (id: string) => {
    const current = settings.context;
    const reservation = loadBudget.reservation();
    try {
      return await attemptMessage(current, id, reservation.acquire);
    } finally {
      reservation.release();
    }
  };
  const intakeFirst = new IntakeFirst({
    ...deps.hooks?.intakeFirst,
    onChange: (change) => {
      metrics.deliveryHeld.set(change.held ? 1 : 0);
      if (!change.held) metrics.deliveryHeldSeconds.inc(change.heldMs / 1000);
    },
  });
  const active = new Scheduler(
    attempt,
    LIMITS.messagesInFlight,
    (id, error) => {
      logger.error({ queueId: id, err: error }, 'delivery attempt failed unexpectedly; will retry');
      return settings.context.retryScheduleMs[0];
    },
    Date.now,
    intakeFirst,
  );
  late.scheduler = active;

  logger.info({ smarthost: smarthost ? `${smarthost.host}:${smarthost.port}` : undefined }, 'delivery started');

  // The failed list is bounded by delivery.failedRetention: pruned at start and every hour.
  const pruneFailed = async (now = new Date()) => {
    const removed = await spool.failed.prune(now, (id) => spool.has(id));
    metrics.failedMessages.set(await spool.failed.count());
    if (removed > 0) logger.info({ removed }, 'failed list: entries past delivery.failedRetention deleted');
    return removed;
  };
  await pruneFailed();
  const pruner = setInterval(() => void pruneFailed().catch((error: unknown) => logger.warn({ err: error }, 'cannot prune the failed list')), FAILED_PRUNE_MS);
  pruner.unref();

  metrics.outboundSmarthost.set(smarthost ? 1 : 0);
  const probeSettings = config.delivery.port25Probe;
  const port25 = smarthost || !probeSettings
    ? undefined
    : new Port25Probe({ host: probeSettings.host, port: probeSettings.port, intervalMs: parseDuration(probeSettings.interval), ...(deps.hooks?.port25TimeoutMs ? { timeoutMs: deps.hooks.port25TimeoutMs } : {}) }, resolver, metrics, logger);
  port25?.start();

  const retryNow = (id?: string) => {
    for (const queuedId of id ? [id] : active.ids()) active.schedule(queuedId, Date.now());
  };
  // `mxkit queue retry` drops a file in spoolDir/control; polling a small folder is cheap and
  // works on every filesystem (inotify is not everywhere, e.g. some container sandboxes).
  let polling = false;
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    spool
      .takeRetryRequests()
      .then(async (requests) => {
        for (const request of requests) {
          if (request === 'all') retryNow();
          else if (await spool.has(request)) active.schedule(request, Date.now());
          if (requests.length) logger.info({ request }, 'retry requested');
        }
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'cannot read retry requests'))
      .finally(() => (polling = false));
  }, deps.hooks?.controlPollMs ?? 500);
  poll.unref();

  return {
    events,
    srs,
    get inbound() {
      return settings.inbound;
    },
    onSpooled: (envelope) => {
      intakeFirst.noteArrival(Date.now());
      spool.state.markFresh(envelope.id);
      seenThisRun?.add(envelope.id);
      active.schedule(envelope.id, Date.now());
    },
    recover: (found) =>
      recoverQueue({
        spool,
        metrics,
        logger,
        schedule: (id, at) => active.schedule(id, at),
        known: (id) => active.has(id) || (seenThisRun?.has(id) ?? false),
        ...(found ? { found } : {}),
        stopped: () => stopping,
      }).finally(() => (seenThisRun = undefined)),
    retryNow,
    ...(port25 ? { port25 } : {}),
    pruneFailed,
    prepare: async (next, dkimKeys) => {
      // Both may throw a ConfigError (a key that does not load, an unreadable password file).
      const prepared = build(next, dkimSigners(next, dkimKeys), await readSmarthost(next));
      return () => {
        settings = prepared;
      };
    },
    stop: async (timeoutMs) => {
      stopping = true;
      clearInterval(poll);
      clearInterval(pruner);
      port25?.stop();
      const saved = throttle.stop();
      await active.stop(timeoutMs);
      await saved;
      await transmitPool.close();
    },
  };
}

/** Bytes of key material an SRS secret file must hold at least (HMAC-SHA256 keys: RFC 2104 §3). */
const MIN_SRS_SECRET_BYTES = 32;

/** SRS with the deployment's shared key, still reversing addresses made with this spool's own key before. */
async function srsFor(config: RelayConfig, spool: Spool): Promise<Srs> {
  const file = config.forwarding?.srsSecretFile;
  if (file === undefined) return new Srs(await spool.secret('srs'));
  const earlier = await spool.existingSecret('srs');
  return new Srs(await readSrsSecret(file), earlier ? [earlier] : []);
}

async function readSrsSecret(file: string): Promise<Buffer> {
  const secret = await readNamedFile('forwarding.srsSecretFile', file);
  if (secret.length < MIN_SRS_SECRET_BYTES) throw new ConfigError(`forwarding.srsSecretFile: ${file} holds ${secret.length} bytes; an SRS key needs at least ${MIN_SRS_SECRET_BYTES}`);
  return secret;
}

async function readSmarthost(config: RelayConfig): Promise<Smarthost | undefined> {
  const smarthost = config.delivery.smarthost;
  if (!smarthost) return undefined;
  // The schema already requires username and passwordFile together.
  if (smarthost.username === undefined || smarthost.passwordFile === undefined) return { host: smarthost.host, port: smarthost.port };
  const pass = await readNamedSecretLine('delivery.smarthost.passwordFile', smarthost.passwordFile);
  return { host: smarthost.host, port: smarthost.port, auth: { user: smarthost.username, pass } };
}
