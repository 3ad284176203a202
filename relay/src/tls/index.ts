/**
 * The relay's TLS lifecycle beside the SMTP listeners: the certificate state and expiry watch, the
 * ACME manager (when tls.acme is set), the HTTP-01 listener (listen.acmeHttp) and the MTA-STS
 * policy listener (listen.https, RFC 8461 §3.3). Every certificate change — ACME issuance or
 * renewal, or a reload of tls.certFile — goes through `install`, which swaps it into the SMTP
 * listeners (open sessions keep theirs; new handshakes get the new one) and the HTTPS listener.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseDuration } from '../config/duration';
import type { RelayConfig } from '../config/schema';
import type { Logger } from '../ops/logger';
import type { RelayMetrics } from '../ops/metrics';
import type { AcmeManager, TlsRuntimeOptions } from './acme-manager';
import type { CertificateSource } from './certificate';
import type { TlsMaterial } from './material';
import type { AcmeStart } from './startup';
import { accountThumbprint, ChallengeStore, closeWeb, createAcmeHttpServer, createMtaStsServer, listenWeb, mtaStsContext } from './http-servers';
import { openPolicySource } from './mta-sts-policy';
import { CertificateState } from './state';

export type { TlsRuntimeOptions } from './acme-manager';

const DEFAULT_CHECK_INTERVAL = '1m';

export interface TlsServices {
  addresses: { acmeHttp?: AddressInfo; https?: AddressInfo };
  state: CertificateState | undefined;
  /** Swaps a certificate into every listener (e.g. a reloaded tls.certFile pair). */
  install(material: TlsMaterial, source: CertificateSource): void;
  /** Every web listener of ours is accepting connections. */
  listening(): boolean;
  stop(): Promise<void>;
}

/** What start-up read (load-relay.ts LoadedRelay): the config, the certificate to serve, the ACME start. */
export interface TlsStart {
  config: RelayConfig;
  tls: TlsMaterial | undefined;
  acme?: AcmeStart;
}

export interface TlsServicesDeps {
  loaded: TlsStart;
  logger: Logger;
  metrics: RelayMetrics;
  /** Puts a certificate into the SMTP listeners. */
  swapSmtp: (material: TlsMaterial) => void;
  options?: TlsRuntimeOptions;
}

export async function startTlsServices(deps: TlsServicesDeps): Promise<TlsServices> {
  const { loaded, logger, metrics } = deps;
  const { config } = loaded;
  const now = deps.options?.now ?? Date.now;
  const acmeConfig = config.tls?.acme;
  const initialSource: CertificateSource = loaded.acme?.source ?? 'file';
  const state = loaded.tls ? new CertificateState({ logger, gauge: metrics.tlsCertificateExpiry, now }, loaded.tls, initialSource) : undefined;
  const challenges = new ChallengeStore(acmeConfig && loaded.acme ? accountThumbprint(loaded.acme.accountKey) : undefined);
  const servers: Array<HttpServer | HttpsServer> = [];
  const addresses: TlsServices['addresses'] = {};
  let https: HttpsServer | undefined;

  const install = (material: TlsMaterial, source: CertificateSource): void => {
    deps.swapSmtp(material);
    https?.setSecureContext(mtaStsContext(material));
    state?.install(material, source);
  };

  try {
    if (config.listen.acmeHttp) {
      const server = createAcmeHttpServer(challenges);
      servers.push(server);
      addresses.acmeHttp = await listenWeb(server, 'listen.acmeHttp', config.listen.acmeHttp.host, config.listen.acmeHttp.port);
      logger.info({ listener: 'acmeHttp', host: addresses.acmeHttp.address, port: addresses.acmeHttp.port }, 'listening');
    }
    if (config.listen.https && loaded.tls) {
      https = createMtaStsServer(loaded.tls, config.domains, await openPolicySource(config, logger));
      servers.push(https);
      addresses.https = await listenWeb(https, 'listen.https', config.listen.https.host, config.listen.https.port);
      logger.info({ listener: 'https', host: addresses.https.address, port: addresses.https.port, mtaSts: config.mtaSts?.mode ?? 'none' }, 'listening');
    }
  } catch (error) {
    await Promise.all(servers.map(closeWeb));
    throw error;
  }

  let manager: AcmeManager | undefined;
  if (acmeConfig && loaded.acme && state) {
    const start = loaded.acme;
    if (start.note) logger.warn({ stateDir: acmeConfig.stateDir, why: start.note }, 'stored TLS certificate not used as is');
    if (start.source === 'temporary') {
      logger.warn({ names: acmeConfig.names }, 'no ACME certificate yet: STARTTLS uses a temporary self-signed certificate until one is obtained');
    }
    // acme-client (and its HTTP and X.509 libraries) is loaded only when tls.acme is set.
    const { AcmeManager: Manager } = await import('./acme-manager.js');
    manager = new Manager({
      acme: acmeConfig,
      accountKey: start.accountKey,
      directoryCa: start.directoryCa,
      startsCurrent: start.source === 'acme' && start.current,
      challenges,
      state,
      install: (material) => install(material, 'acme'),
      logger,
      options: deps.options ?? {},
    });
    const info = state.current.info;
    logger.info(
      { source: start.source, serial: info.serial, notAfter: new Date(info.notAfter).toISOString(), orderAt: new Date(manager.dueAt).toISOString() },
      start.source === 'acme' && start.current ? 'using the stored ACME certificate' : 'a TLS certificate will be ordered now',
    );
  }

  // One periodic check drives both the expiry watch and ACME renewal: cheap, and robust to timers
  // longer than setTimeout allows (~24.8 days) and to clock changes.
  const interval = setInterval(() => {
    state?.check();
    manager?.tick();
  }, parseDuration(acmeConfig?.checkInterval ?? DEFAULT_CHECK_INTERVAL));
  interval.unref();
  manager?.tick();

  return {
    addresses,
    state,
    install,
    listening: () => servers.every((server) => server.listening),
    stop: async () => {
      clearInterval(interval);
      await manager?.stop();
      await Promise.all(servers.map(closeWeb));
    },
  };
}
