/**
 * Starts and stops the relay: spool, SMTP listeners, ops HTTP endpoint and TLS reload. Data flows
 * intake -> spool; this file only wires the parts together.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { readTlsMaterial, type LoadedRelay } from './config/load';
import { ConfigError } from './config/schema';
import { AuthThrottle } from './intake/auth-throttle';
import { ConnectionTracker } from './intake/connection-tracker';
import { closeServer, dismissIdleSessions, startSmtpListeners, type SmtpListener } from './intake/listeners';
import { trustedNetworkList } from './intake/policy';
import { createOpsServer } from './ops/http';
import type { Logger } from './ops/logger';
import { RelayMetrics } from './ops/metrics';
import { TlsReloader } from './ops/tls-reload';
import { Spool } from './spool/spool';

export interface RelayOptions {
  /** Delay before a failed AUTH is answered (tests shorten it). */
  authFailureDelayMs?: number;
  /** Longest wait for in-flight sessions at shutdown before they are cut. */
  drainTimeoutMs?: number;
}

export interface RunningRelay {
  addresses: Partial<Record<'mx' | 'submission' | 'submissions' | 'http', AddressInfo>>;
  spool: Spool;
  metrics: RelayMetrics;
  reloadTls(): Promise<boolean>;
  shutdown(): Promise<void>;
}

export async function startRelay(loaded: LoadedRelay, logger: Logger, options: RelayOptions = {}): Promise<RunningRelay> {
  const { config } = loaded;
  const metrics = new RelayMetrics();
  const spool = new Spool(config.spoolDir);
  const recovered = await spool.open();
  metrics.spoolMessages.set(recovered.messages.length);
  logger.info({ spoolDir: spool.root, queued: recovered.messages.length, removedTemp: recovered.removedTemp }, 'spool opened');

  let draining = false;
  let listeners: SmtpListener[] = [];
  const connections = new ConnectionTracker();
  const context = {
    config,
    spool,
    logger,
    metrics,
    connections,
    trusted: trustedNetworkList(config.trustedNetworks),
    throttle: new AuthThrottle({ limit: config.limits.authFailuresPerIp, windowMs: 15 * 60_000, failureDelayMs: options.authFailureDelayMs ?? 1000 }),
    isDraining: () => draining,
  };

  let ops: Server | undefined;
  const addresses: RunningRelay['addresses'] = {};
  try {
    listeners = await startSmtpListeners(context, loaded.tls);
    listeners.forEach(({ kind, address }) => (addresses[kind] = address));
    if (config.listen.http) {
      ops = createOpsServer({ isReady: () => !draining && listeners.every(({ server }) => server.server.listening) }, metrics.registry);
      addresses.http = await listenHttp(ops, config.listen.http.host, config.listen.http.port);
    }
  } catch (error) {
    await Promise.all(listeners.map(({ server }) => closeServer(server)));
    throw error;
  }

  const reloader = config.tls?.certFile && config.tls.keyFile
    ? new TlsReloader({
        certFile: config.tls.certFile,
        keyFile: config.tls.keyFile,
        read: () => readTlsMaterial(config),
        apply: (material) => listeners.forEach(({ server }) => server.updateSecureContext({ key: material.key, cert: material.cert })),
        logger,
      })
    : undefined;
  reloader?.start();

  const shutdown = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    logger.info({ open: connections.open }, 'shutting down: refusing new sessions, letting open transactions finish');
    reloader?.stop();
    listeners.forEach(({ server }) => dismissIdleSessions(server));
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, options.drainTimeoutMs ?? 60_000).unref());
    await Promise.race([connections.whenIdle(), timeout]);
    await Promise.all(listeners.map(({ server }) => closeServer(server)));
    await new Promise<void>((resolve) => (ops ? ops.close(() => resolve()) : resolve()));
    ops?.closeAllConnections();
    logger.info('relay stopped');
  };

  return { addresses, spool, metrics, reloadTls: () => reloader?.reload() ?? Promise.resolve(false), shutdown };
}

function listenHttp(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new ConfigError(`listen.http: ${host}:${port} ${error.code === 'EADDRINUSE' ? 'is already in use' : error.message}`)),
    );
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}
