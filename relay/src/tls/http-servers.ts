/**
 * The two web listeners of a relay that looks after its own TLS:
 *  - listen.acmeHttp (port 80): HTTP-01 challenge responses, RFC 8555 §8.3 (for any token, with
 *    the account's thumbprint: see ChallengeStore); every other request gets 404 — no redirect
 *    anywhere (RFC 8461 §3.3: policy fetches must not follow redirects);
 *  - listen.https (port 443): the MTA-STS policy, RFC 8461 §3.3, at
 *    https://mta-sts.<domain>/.well-known/mta-sts.txt for each mail domain; 404 elsewhere.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { TlsMaterial } from './material';
import { WITHOUT_CLIENT_CAS } from './server-context';
import { ConfigError } from '../config/schema';
import type { PolicySource } from './mta-sts-policy';

/**
 * Key authorizations by token, while an order's HTTP-01 challenges are open. With the account's
 * key thumbprint it also answers tokens it never saw ("stateless" HTTP-01): a key authorization is
 * only `token.thumbprint` (RFC 8555 §8.1), so every host sharing the account can answer for the
 * others. Several hosts share names — the submission name and mta-sts.<domain> point at all of
 * them — and the CA validates whichever address it picks; only the account's private key can make
 * use of such an answer, so it gives nothing away.
 */
export class ChallengeStore {
  private readonly tokens = new Map<string, string>();

  constructor(private readonly accountThumbprint?: string) {}

  set(token: string, keyAuthorization: string): void {
    this.tokens.set(token, keyAuthorization);
  }

  delete(token: string): void {
    this.tokens.delete(token);
  }

  get(token: string): string | undefined {
    return this.tokens.get(token) ?? (this.accountThumbprint === undefined ? undefined : `${token}.${this.accountThumbprint}`);
  }
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of the account key: only the required members, sorted. */
export function accountThumbprint(accountKey: Buffer | string): string {
  const jwk = createPublicKey(accountKey).export({ format: 'jwk' });
  const required = jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}

// RFC 8555 §8.3: tokens are base64url, at least 128 bits of entropy (43 characters); bound the rest.
const CHALLENGE_PATH = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]{1,128})$/;
export const MTA_STS_PATH = '/.well-known/mta-sts.txt';

function pathOf(request: IncomingMessage): string {
  return (request.url ?? '/').split('?')[0];
}

function notFound(response: ServerResponse): void {
  response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
}

function answer(request: IncomingMessage, response: ServerResponse, body: string): void {
  response.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  response.end(request.method === 'HEAD' ? undefined : body);
}

export function createAcmeHttpServer(challenges: ChallengeStore): HttpServer {
  return createHttpServer((request, response) => {
    const match = CHALLENGE_PATH.exec(pathOf(request));
    const keyAuthorization = match && (request.method === 'GET' || request.method === 'HEAD') ? challenges.get(match[1]) : undefined;
    // RFC 8555 §8.3: the body is the key authorization; the validator ignores the content type.
    if (keyAuthorization) answer(request, response, keyAuthorization);
    else notFound(response);
  });
}

/** The HTTPS listener's TLS settings, at start and after each certificate change. */
export function mtaStsContext(material: TlsMaterial): SecureContextOptions {
  return { key: material.key, cert: material.cert, minVersion: 'TLSv1.2', ...WITHOUT_CLIENT_CAS };
}

/**
 * The policy is the exact text infra/builders/records.ts builds (directly, or through
 * mtaSts.policyFile), so the `_mta-sts` TXT id published in DNS (a hash of that text) matches what
 * is served; no policy (no `mtaSts` in the config): 404.
 */
export function createMtaStsServer(material: TlsMaterial, domains: readonly string[], policy: PolicySource): HttpsServer {
  const hosts = new Set(domains.map((domain) => `mta-sts.${domain}`));
  return createHttpsServer(mtaStsContext(material), (request, response) => {
    const host = (request.headers.host ?? '').toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
    const wanted = pathOf(request) === MTA_STS_PATH && (request.method === 'GET' || request.method === 'HEAD') && hosts.has(host);
    if (!wanted) return notFound(response);
    // RFC 8461 §3.2: media type text/plain.
    void policy.current().then((text) => (text !== undefined ? answer(request, response, text) : notFound(response)));
  });
}

export function listenWeb(server: HttpServer | HttpsServer, field: string, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'is already in use' : error.code === 'EACCES' ? 'needs privileges to bind' : error.message;
      reject(new ConfigError(`${field}: ${host}:${port} ${why}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.removeListener('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

export function closeWeb(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
