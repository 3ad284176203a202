/**
 * Obtains and renews the relay's certificate from an ACME CA (RFC 8555) with HTTP-01 challenges
 * (§8.3), answered by the listen.acmeHttp server from the shared ChallengeStore.
 *
 * - An order is placed when the served certificate is not an ACME one for the configured names
 *   and directory (first start: the temporary self-signed certificate), and when a third of the
 *   current certificate's lifetime is left (a 90-day certificate: at day 60).
 * - A failed order is retried after a doubling, jittered wait between tls.acme.retryMin and
 *   retryMax (full jitter in [wait/2, wait]), so a fleet does not hammer a CA that is down or
 *   rate-limiting (§6.6). The certificate in use stays in use meanwhile.
 * - A new certificate is stored (store.ts) before it is swapped into the listeners.
 * `tick()` is called periodically (tls.acme.checkInterval); it starts an order when one is due.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Agent, get as httpsGet } from 'node:https';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import type { TlsMaterial } from './material';
import { parseDuration } from '../config/duration';
import { installPatches } from '../patches';
import { noAcmeClientRetries } from '../patches/acme-client';
import type { Logger } from '../ops/logger';
import { describeCertificate, missingNames, renewalTime } from './certificate';
import type { ChallengeStore } from './http-servers';
import type { CertificateState } from './state';
import type { AcmeConfig } from './startup';
import { writeStoredCertificate } from './store';

/** Knobs for tests; production uses the defaults. */
export interface TlsRuntimeOptions {
  /** The current time in ms since the epoch; tests move it forward to force renewal or expiry warnings. */
  now?: () => number;
  /** First wait between ACME status polls (acme-client backoffMin), default 1000 ms. */
  pollMs?: number;
  /** Random numbers in [0, 1) for the retry jitter (default Math.random). */
  random?: () => number;
}

export interface AcmeManagerDeps {
  acme: AcmeConfig;
  accountKey: Buffer;
  directoryCa: Buffer | undefined;
  /** Whether the certificate served at start is an ACME one, current for these names and directory. */
  startsCurrent: boolean;
  challenges: ChallengeStore;
  state: CertificateState;
  /** Swaps a new certificate into every listener and the state. */
  install: (material: TlsMaterial) => void;
  logger: Logger;
  options: TlsRuntimeOptions;
}

/** ACME HTTP requests that hang must not hold an order (and shutdown) forever. */
const REQUEST_TIMEOUT_MS = 30_000;

export class AcmeManager {
  private readonly client: acme.Client;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly interceptor: number;
  private readonly agent: Agent;
  private failures = 0;
  private nextAttemptAt: number;
  private attempt: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: AcmeManagerDeps) {
    installPatches();
    // acme-client's own request retries are turned off: our schedule owns retries.
    noAcmeClientRetries();
    this.now = deps.options.now ?? Date.now;
    this.random = deps.options.random ?? Math.random;
    this.client = new acme.Client({
      directoryUrl: deps.acme.directoryUrl,
      accountKey: deps.accountKey,
      backoffMin: deps.options.pollMs ?? 1000,
      backoffMax: 10_000,
      backoffAttempts: 10,
    });
    this.agent = new Agent({ keepAlive: true, ...(deps.directoryCa ? { ca: [...rootCertificates, deps.directoryCa.toString('utf8')] } : {}) });
    this.interceptor = this.scopeRequests(deps.acme.directoryUrl);
    this.nextAttemptAt = deps.startsCurrent ? renewalTime(deps.state.current.info) : this.now();
  }

  /** Requests to the directory's origin get the timeout and, with tls.acme.caFile, its extra CA. */
  private scopeRequests(directoryUrl: string): number {
    const origin = new URL(directoryUrl).origin;
    const agent = this.agent;
    return acme.axios.interceptors.request.use((config) => {
      if (config.url && new URL(config.url, origin).origin === origin) {
        config.httpsAgent = agent;
        config.timeout = REQUEST_TIMEOUT_MS;
      }
      return config;
    });
  }

  /** When the next order is due (ms since the epoch). */
  get dueAt(): number {
    return this.nextAttemptAt;
  }

  /** Starts an order if one is due and none is running. Never throws. */
  tick(): void {
    if (this.stopped || this.attempt || this.now() < this.nextAttemptAt) return;
    this.attempt = this.obtain().finally(() => (this.attempt = undefined));
  }

  private async obtain(): Promise<void> {
    const { acme: settings, logger } = this.deps;
    const previous = this.deps.state.current;
    const reason = previous.source !== 'acme' ? 'no ACME certificate yet' : missingNames(previous.info, settings.names).length > 0 ? 'names changed' : 'renewal due';
    logger.info({ names: settings.names, directoryUrl: settings.directoryUrl, reason }, 'ordering a TLS certificate (ACME)');
    try {
      const material = await this.order();
      if (this.stopped) return;
      const info = describeCertificate(material);
      try {
        await writeStoredCertificate(settings.stateDir, material, {
          directoryUrl: settings.directoryUrl,
          names: [...settings.names],
          serial: info.serial,
          obtainedAt: new Date(this.now()).toISOString(),
        });
      } catch (error) {
        // A valid certificate beats the one in use even if it cannot be kept: serve it anyway.
        logger.error({ reason: describeError(error), stateDir: settings.stateDir }, 'cannot store the TLS certificate; serving it anyway, the next start orders again');
      }
      this.deps.install(material);
      this.failures = 0;
      this.nextAttemptAt = renewalTime(info);
      logger.info(
        { serial: info.serial, previousSerial: previous.info.serial, notAfter: new Date(info.notAfter).toISOString(), renewAt: new Date(this.nextAttemptAt).toISOString() },
        previous.source === 'acme' ? 'TLS certificate renewed' : 'TLS certificate obtained',
      );
    } catch (error) {
      if (this.stopped) return;
      this.failures += 1;
      const wait = Math.min(parseDuration(settings.retryMax), parseDuration(settings.retryMin) * 2 ** Math.min(this.failures - 1, 30));
      const jittered = Math.round(wait / 2 + (this.random() * wait) / 2);
      this.nextAttemptAt = this.now() + jittered;
      logger.warn(
        { reason: describeError(error), failures: this.failures, retryInMs: jittered, keeping: previous.source, serial: previous.info.serial },
        'TLS certificate order failed; keeping the current certificate and retrying',
      );
    }
  }

  /**
   * One order, step by step: account (found or created, RFC 8555 §7.3), new order (§7.4), each
   * authorization's HTTP-01 challenge answered and awaited (§7.5.1, §8.3), finalize with a CSR for
   * a fresh key (§7.4), download the chain (§7.4.2).
   *
   * acme-client's own CSR and CSR-parsing helpers (used by its `auto()`) go through @peculiar/x509,
   * which fails ("Cannot get schema for 'CertificationRequestInfo'") when npm installs two copies
   * of @peculiar/asn1-schema — as it does here beside mailauth's pinned copy. The CSR is made with
   * acme-client's node-forge helper instead, and the flow is driven here.
   */
  private async order(): Promise<TlsMaterial> {
    const { acme: settings, challenges } = this.deps;
    await this.probeDirectory();
    try {
      this.client.getAccountUrl();
    } catch {
      await this.client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${settings.email}`] });
    }
    const order = await this.client.createOrder({ identifiers: settings.names.map((value) => ({ type: 'dns', value })) });
    const authorizations = await this.client.getAuthorizations(order);
    await Promise.all(
      authorizations.map(async (authorization) => {
        if (authorization.status === 'valid') return;
        const challenge = authorization.challenges.find((candidate) => candidate.type === 'http-01');
        if (!challenge) throw new Error(`the CA offers no http-01 challenge for ${authorization.identifier.value}`);
        challenges.set(challenge.token, await this.client.getChallengeKeyAuthorization(challenge));
        try {
          await this.client.completeChallenge(challenge);
          await this.client.waitForValidStatus(challenge);
        } finally {
          challenges.delete(challenge.token);
        }
      }),
    );
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const [, csr] = await acme.forge.createCsr({ commonName: settings.names[0], altNames: [...settings.names] }, key);
    const finalized = await this.client.finalizeOrder(order, csr);
    const chain = await this.client.getCertificate(finalized);
    return { key: Buffer.from(key), cert: Buffer.from(chain) };
  }

  /**
   * GET the directory (§7.1.1) first: with its own retries off, acme-client reports a transport
   * failure (connection refused, timeout) as "Cannot read properties of undefined", so a CA that is
   * down or unreachable is named here instead.
   */
  private probeDirectory(): Promise<void> {
    const url = this.deps.acme.directoryUrl;
    return new Promise((resolve, reject) => {
      const request = httpsGet(url, { agent: this.agent, timeout: REQUEST_TIMEOUT_MS }, (response) => {
        response.resume();
        if (response.statusCode === 200) resolve();
        else reject(new Error(`ACME directory ${url} answered HTTP ${response.statusCode}`));
      });
      request.on('timeout', () => request.destroy(new Error('timed out')));
      request.on('error', (error: NodeJS.ErrnoException) => reject(new Error(`ACME directory ${url} unreachable: ${error.code ?? error.message}`)));
    });
  }

  /** Stops scheduling; waits (briefly) for an order in progress so nothing writes after shutdown. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.attempt) await Promise.race([this.attempt, new Promise<void>((resolve) => setTimeout(resolve, 5000).unref())]);
    acme.axios.interceptors.request.eject(this.interceptor);
    this.agent.destroy();
  }
}

/** Errors from acme-client/axios carry request objects (and headers): log only the message. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return error.message || code || error.name;
}
