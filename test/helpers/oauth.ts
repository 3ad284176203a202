/**
 * A stand-in identity provider on loopback: signing keys, a JWKS endpoint (port 0) whose key set a
 * test can rotate, and tokens signed like an access token from Entra ID, Google or Keycloak.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';

export const ISSUER = 'https://idp.example.test/tenant';
export const AUDIENCE = 'api://mxkit-submission';

export interface SigningKey {
  kid: string;
  privateKey: KeyLike;
  jwk: JWK;
}

export async function signingKey(kid: string, alg: 'RS256' | 'ES256' = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export interface TokenOptions {
  key: SigningKey;
  claims?: Record<string, unknown>;
  issuer?: string;
  audience?: string;
  /** Seconds from now; negative: already expired. */
  expiresIn?: number;
  notBefore?: number;
  alg?: string;
  /** Omit the `kid` header. */
  noKid?: boolean;
}

export async function token(options: TokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ email: 'alice@example.test', ...options.claims })
    .setProtectedHeader({ alg: options.alg ?? options.key.jwk.alg ?? 'RS256', ...(options.noKid ? {} : { kid: options.key.kid }), typ: 'JWT' })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600));
  if (options.notBefore !== undefined) jwt.setNotBefore(now + options.notBefore);
  return jwt.sign(options.key.privateKey);
}

/** An unsigned token (`alg: none`, RFC 7519 section 6): header and claims, empty signature. */
export function unsecuredToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ iss: ISSUER, aud: AUDIENCE, exp: now + 3600, email: 'alice@example.test', ...claims })}.`;
}

/** A token "signed" with HS256 using the public JWK's text as the secret: the classic key-confusion forgery. */
export async function hmacForgery(key: SigningKey): Promise<string> {
  const secret = new TextEncoder().encode(JSON.stringify(key.jwk));
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ email: 'alice@example.test' })
    .setProtectedHeader({ alg: 'HS256', kid: key.kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime(now + 3600)
    .sign(secret);
}

export interface JwksServer {
  url: string;
  /** GET requests answered so far. */
  requests: number;
  publish(keys: SigningKey[]): void;
  /** Serve this body instead of the key set (a broken provider). */
  serveRaw(body: string, status?: number): void;
  close(): Promise<void>;
}

export async function startJwksServer(keys: SigningKey[]): Promise<JwksServer> {
  let body = '';
  let status = 200;
  const state = { requests: 0 };
  const publish = (current: SigningKey[]) => {
    body = JSON.stringify({ keys: current.map((key) => key.jwk) });
    status = 200;
  };
  publish(keys);
  const server: Server = createServer((request, response) => {
    state.requests++;
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/keys`,
    get requests() {
      return state.requests;
    },
    publish,
    serveRaw(raw, code = 200) {
      body = raw;
      status = code;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
