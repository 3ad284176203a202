/**
 * Starts and stops the relay: spool, delivery, SMTP listeners, ops HTTP endpoint and TLS reload.
 * Data flows intake -> spool -> delivery; this file only wires the parts together (the intake gets
 * delivery's inbound checks as injected functions, so intake and delivery never import each other).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { LoadedRelay } from './load-relay';
import { readTlsMaterial } from './tls/material';
import { ConfigError, type RelayConfig } from './config/schema';
import { configReloader, type ReloadResult } from './config-reloader';
import { startDeliverability, type DeliverabilityOptions } from './deliverability';
import { startDelivery, type Delivery, type DeliveryHooks } from './delivery/delivery';
import { AuthGuard } from './intake/auth-guard';
import { ByteBudget } from './intake/byte-budget';
import { ConnectionTracker } from './intake/connection-tracker';
import { closeServer, dismissIdleSessions, SMTP_LISTENERS, startSmtpListeners, type SmtpListener } from './intake/listeners';
import { OAuthVerifier, type OAuthVerifierOptions } from './intake/oauth/token-verifier';
import { PasswordVerifier } from './intake/password-worker';
import { trustedNetworkList } from './intake/policy';
import type { IntakeContext } from './intake/context';
import { createOpsServer } from './ops/http';
import { installPatches } from './patches';
import type { Logger } from './ops/logger';
import { RelayMetrics } from './ops/metrics';
import { SpamFilter } from './spam/spam-filter';
import { TlsReloader } from './ops/tls-reload';
import { Spool } from './spool/spool';
import { startTlsServices, type TlsRuntimeOptions, type TlsServices } from './tls';

export interface RelayOptions {
  /** Delay before a failed AUTH is answered (tests shorten it). */
  authFailureDelayMs?: number;
  /** Longest wait for in-flight sessions at shutdown before they are cut. */
  drainTimeoutMs?: number;
  /** Internal delivery knobs for tests (MTA-STS policy URL, extra CAs). */
  delivery?: DeliveryHooks;
  /** TLS/ACME knobs for tests (clock, ACME poll interval): relay/src/tls. */
  tls?: TlsRuntimeOptions;
  /** Trace, reports, suppression and alert knobs for tests: deliverability.ts. */
  deliverability?: DeliverabilityOptions;
  /** OAuth knobs for tests: key-set cache timing, the clock tokens are judged at. */
  oauth?: Pick<OAuthVerifierOptions, 'cache' | 'now'>;
}

export interface RunningRelay {
  addresses: Partial<Record<'mx' | 'submission' | 'submissions' | 'http' | 'acmeHttp' | 'https', AddressInfo>>;
  spool: Spool;
  metrics: RelayMetrics;
  delivery: Delivery;
  reloadTls(): Promise<boolean>;
  /**
   * Reads the config file again (SIGHUP). A config that does not validate is refused as a whole
   * (one log line naming the field, a metric) and the running one is kept (config-reloader.ts).
   */
  reloadConfig(): Promise<ReloadResult>;
  shutdown(): Promise<void>;
}

export type { ReloadResult } from './config-reloader';

/** The parts of the intake that a config decides, built (and checked) before they replace the running ones. */
interface IntakeGeneration {
  config: RelayConfig;
  spam: SpamFilter;
  oauth: OAuthVerifier;
}

async function intakeGeneration(config: RelayConfig, logger: Logger, metrics: RelayMetrics, options: RelayOptions, previous?: IntakeGeneration): Promise<IntakeGeneration> {
  const oauth = await OAuthVerifier.create(config.auth.oauth, { logger, ...options.oauth, ...(previous ? { previous: previous.oauth } : {}) });
  return { config, oauth, spam: new SpamFilter(config, logger, metrics, Date.now, previous?.spam) };
}

export async function startRelay(loaded: LoadedRelay, logger: Logger, options: RelayOptions = {}): Promise<RunningRelay> {
  // Refuses to start when a patched module is not the shape its patch was written for.
  installPatches();
  const { config } = loaded;
  const metrics = new RelayMetrics();
  const spool = new Spool(config.spoolDir);
  const opened = await spool.open();
  logger.info({ spoolDir: spool.root, removedTemp: opened.removedTemp }, 'spool opened');

  // Trace, suppression, report mailboxes and alerts (docs/deliverability.md).
  const loop = await startDeliverability({ config, logger, metrics, isQueued: (id) => spool.has(id), ...(options.deliverability ? { options: options.deliverability } : {}) });
  const delivery = await startDelivery({ config, dkimKeys: loaded.dkimKeys, spool, logger, metrics, storeLocally: loop.storeLocally, ...(options.delivery ? { hooks: options.delivery } : {}) }).catch(async (error: unknown) => {
    await loop.stop();
    throw error;
  });
  loop.follow(delivery.events, delivery.port25);

  let generation: IntakeGeneration;
  try {
    generation = await intakeGeneration(config, logger, metrics, options);
  } catch (error) {
    await delivery.stop(0);
    await loop.stop();
    throw error;
  }
  void generation.spam.announce(logger);
  void generation.oauth.warmUp(logger);

  let draining = false;
  let listeners: SmtpListener[] = [];
  const connections = new ConnectionTracker(config.limits, SMTP_LISTENERS.filter((kind) => config.listen[kind]));
  const passwords = new PasswordVerifier();
  // Shared by every config generation: their state must outlive a reload (the throttles' memory of
  // failures, the budget's bytes in flight); their limits are restart-only (config/reload.ts).
  const budget = new ByteBudget(config.limits.maxInFlightBytes, (inFlight) => metrics.inFlightBytes.set(inFlight));
  const guard = new AuthGuard({
    perIp: config.limits.authFailuresPerIp,
    perAccount: config.limits.authFailuresPerAccount,
    total: config.limits.authFailuresTotal,
    windowMs: 15 * 60_000,
    failureDelayMs: options.authFailureDelayMs ?? 1000,
  });
  const contextFor = (current: IntakeGeneration): IntakeContext => ({
    config: current.config,
    spool,
    logger,
    metrics,
    connections,
    budget,
    trusted: trustedNetworkList(current.config.trustedNetworks),
    auth: { config: current.config, metrics, passwords, guard },
    isDraining: () => draining,
    onSpooled: (envelope: Parameters<Delivery['onSpooled']>[0]) => {
      loop.received(envelope);
      delivery.onSpooled(envelope);
    },
    suppressedRecipient: loop.suppressedRecipient,
    spam: current.spam,
    oauth: current.oauth,
    inbound: {
      check: (input: Parameters<Delivery['inbound']['check']>[0]) => delivery.inbound.check(input),
      isReturnAddress: (address: string) => delivery.srs.reverse(address) !== undefined,
    },
  });
  const context = contextFor(generation);

  let ops: Server | undefined;
  let tls: TlsServices | undefined;
  const addresses: RunningRelay['addresses'] = {};
  try {
    listeners = await startSmtpListeners(context, loaded.tls);
    listeners.forEach(({ kind, address }) => (addresses[kind] = address));
    // Certificate state, expiry watch, ACME and the acmeHttp/https listeners (docs/tls.md).
    tls = await startTlsServices({ loaded, logger, metrics, options: options.tls, swapSmtp: (material) => listeners.forEach(({ server }) => server.updateSecureContext({ key: material.key, cert: material.cert })) });
    Object.assign(addresses, tls.addresses);
    if (config.listen.http) {
      ops = createOpsServer({ isReady: () => !draining && listeners.every(({ server }) => server.server.listening) && (tls?.listening() ?? true) }, metrics.registry, loop.pages);
      addresses.http = await listenHttp(ops, config.listen.http.host, config.listen.http.port);
    }
  } catch (error) {
    await Promise.all(listeners.map(({ server }) => closeServer(server)));
    await tls?.stop();
    await delivery.stop(0);
    await loop.stop();
    await passwords.close();
    throw error;
  }

  const reloader = config.tls?.certFile && config.tls.keyFile && !config.tls.acme
    ? new TlsReloader({
        certFile: config.tls.certFile,
        keyFile: config.tls.keyFile,
        read: () => readTlsMaterial(config),
        apply: (material) => tls?.install(material, 'file'),
        logger,
      })
    : undefined;
  reloader?.start();

  // The queue found at start is scheduled while the listeners already take mail (recovery.ts).
  const recovery = delivery.recover((batch) => loop.seedQueued(batch)).catch((error: unknown) => {
    logger.error({ err: error }, 'cannot list the queue found at start; restart the relay to try again');
  });

  const shutdown = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    logger.info({ open: connections.open }, 'shutting down: refusing new sessions, letting open transactions finish');
    reloader?.stop();
    await tls?.stop();
    listeners.forEach(({ server }) => dismissIdleSessions(server));
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, options.drainTimeoutMs ?? 60_000).unref());
    await Promise.race([connections.whenIdle(), timeout]);
    await Promise.all(listeners.map(({ server }) => closeServer(server)));
    await passwords.close();
    // Attempts in progress finish (or are cut at the drain timeout: their state is durable, and an
    // unfinished recipient is simply retried after the restart).
    await delivery.stop(options.drainTimeoutMs ?? 60_000);
    await recovery;
    await loop.stop();
    await new Promise<void>((resolve) => (ops ? ops.close(() => resolve()) : resolve()));
    ops?.closeAllConnections();
    logger.info('relay stopped');
  };

  const reloadConfig = configReloader<IntakeGeneration>({
    configPath: loaded.configPath,
    revision: loaded.revision ?? 'none',
    logger,
    metrics,
    current: () => generation,
    build: async (next, previous) => {
      const built = await intakeGeneration(next, logger, metrics, options, previous);
      void built.spam.announce(logger);
      void built.oauth.warmUp(logger);
      return built;
    },
    prepareDelivery: (next, dkimKeys) => delivery.prepare(next, dkimKeys),
    apply: (next) => {
      generation = next;
      const nextContext = contextFor(next);
      listeners.forEach((listener) => listener.reconfigure(nextContext));
    },
  });

  return { addresses, spool, metrics, delivery, reloadTls: () => reloader?.reload() ?? Promise.resolve(false), reloadConfig, shutdown };
}

function listenHttp(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new ConfigError(`listen.http: ${host}:${port} ${error.code === 'EADDRINUSE' ? 'is already in use' : error.message}`)),
    );
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}
