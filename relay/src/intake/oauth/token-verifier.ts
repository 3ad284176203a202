/**
 * Decides whether an OAuth 2.0 bearer token (a JWT access token, RFC 9068 / RFC 7519) names a user
 * who may submit mail: the token's `iss` picks one of `auth.oauth`, its signature must verify
 * against that issuer's keys, `aud` must hold the configured audience, `exp`/`nbf` must hold with
 * a small clock skew, and the configured claim names the user. Only asymmetric signatures are
 * accepted: `alg: none` proves nothing, and an HMAC "signature" checked against a public key set
 * would let anyone who can read the key set forge tokens (RFC 8725 sections 2.1 and 3.1).
 */
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { ConfigError } from '../../config/schema';
import { SELF_SENDER, type OAuthProvider } from '../../config/oauth-schema';
import type { Logger } from '../../ops/logger';
import { fileKeySetSource, KeySetCache, KeySetUnavailable, urlKeySetSource, type KeySetCacheOptions } from './key-set';

/** RFC 7518 section 3.1 and RFC 8037: the public-key JWS algorithms. */
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
/** Clocks of the provider and the relay may differ a little (RFC 7519 4.1.4 allows "some small leeway"). */
export const CLOCK_SKEW_SECONDS = 60;
/** Real access tokens are 1-4 KB; smtp-server caps the whole AUTH line at 16 KiB anyway. */
export const MAX_TOKEN_LENGTH = 12 * 1024;

export type OAuthFailureReason =
  | 'malformed'
  | 'alg_not_allowed'
  | 'unknown_issuer'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'unknown_key'
  | 'bad_signature'
  | 'keys_unavailable'
  | 'no_username'
  | 'user_mismatch';

export interface OAuthIdentity {
  username: string;
  issuer: string;
  /** allowedFrom with `self` replaced by the user's own address. */
  allowedFrom: string[];
  maxMessagesPerHour?: number;
}

export type OAuthVerdict = { ok: true; identity: OAuthIdentity } | { ok: false; reason: OAuthFailureReason; issuer?: string; detail: string };

interface ProviderKeys {
  provider: OAuthProvider;
  keys: KeySetCache;
}

export interface OAuthVerifierOptions {
  logger?: Logger;
  /** Key caches of the verifier this one replaces (a config reload): unchanged URLs keep their keys. */
  previous?: OAuthVerifier;
  cache?: Omit<KeySetCacheOptions, 'logger'>;
  /** The time tokens are judged at (tests). */
  now?: () => Date;
}

export class OAuthVerifier {
  private constructor(
    private readonly providers: ReadonlyMap<string, ProviderKeys>,
    private readonly now: () => Date,
  ) {}

  /**
   * Builds the verifier for `auth.oauth`. Key files are read (and must parse) now, so a config with
   * a broken jwksFile is refused as a whole, at start or at a reload; key URLs are fetched on use.
   */
  static async create(providers: readonly OAuthProvider[], options: OAuthVerifierOptions = {}): Promise<OAuthVerifier> {
    const byIssuer = new Map<string, ProviderKeys>();
    for (const [index, provider] of providers.entries()) {
      let keys: KeySetCache;
      if (provider.jwksFile !== undefined) {
        keys = new KeySetCache(fileKeySetSource(provider.jwksFile), { ...options.cache, ...(options.logger ? { logger: options.logger } : {}) });
        let set: JSONWebKeySet;
        try {
          set = await keys.source.load();
        } catch (error) {
          throw new ConfigError(`auth.oauth[${index}].jwksFile: ${(error as Error).message}`);
        }
        keys.prime(set);
      } else {
        const url = provider.jwksUrl as string;
        keys = options.previous?.cacheFor(url) ?? new KeySetCache(urlKeySetSource(url), { ...options.cache, ...(options.logger ? { logger: options.logger } : {}) });
      }
      byIssuer.set(provider.issuer, { provider, keys });
    }
    return new OAuthVerifier(byIssuer, options.now ?? (() => new Date()));
  }

  get enabled(): boolean {
    return this.providers.size > 0;
  }

  private cacheFor(url: string): KeySetCache | undefined {
    return [...this.providers.values()].find((entry) => entry.keys.source.origin === url && entry.provider.jwksUrl === url)?.keys;
  }

  /** Fetches every provider's keys once, so the first login does not wait for it (failures are only logged). */
  async warmUp(logger: Logger): Promise<void> {
    await Promise.all(
      [...this.providers.values()]
        .filter((entry) => entry.provider.jwksUrl !== undefined)
        .map((entry) =>
          entry.keys.ensureLoaded().catch((error: unknown) => {
            logger.warn({ issuer: entry.provider.issuer, keys: entry.keys.source.origin, err: (error as Error).message }, 'cannot fetch the OAuth signing keys yet; logins with tokens from this issuer fail until they can be fetched');
          }),
        ),
    );
  }

  /**
   * Judges `token`. `claimedUser` is the user name the client sent beside it (XOAUTH2 `user=`,
   * OAUTHBEARER `a=`): when given, it must be the user the token names.
   */
  async verify(token: string, claimedUser?: string): Promise<OAuthVerdict> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return fail('malformed', undefined, 'empty or over-long token');
    let algorithm: string | undefined;
    let claims: JWTPayload;
    try {
      algorithm = decodeProtectedHeader(token).alg;
      claims = decodeJwt(token);
    } catch {
      return fail('malformed', undefined, 'not a JWT');
    }
    if (!(ACCEPTED_ALGORITHMS as readonly string[]).includes(algorithm ?? '')) return fail('alg_not_allowed', claims.iss, `alg ${String(algorithm)} is not accepted`);
    const entry = typeof claims.iss === 'string' ? this.providers.get(claims.iss) : undefined;
    if (!entry) return fail('unknown_issuer', typeof claims.iss === 'string' ? claims.iss : undefined, 'no auth.oauth entry for this issuer');
    const { provider, keys } = entry;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header, input) => keys.keyFor(header, input), {
        issuer: provider.issuer,
        audience: provider.audience,
        algorithms: [...ACCEPTED_ALGORITHMS],
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ['exp'],
        currentDate: this.now(),
      }));
    } catch (error) {
      const { reason, detail } = reasonOf(error);
      return fail(reason, provider.issuer, detail);
    }
    const username = payload[provider.usernameClaim];
    // eslint-disable-next-line no-control-regex -- a user name with control characters or spaces is refused
    if (typeof username !== 'string' || username.length === 0 || username.length > 254 || /[\s\x00-\x1f\x7f]/.test(username)) {
      return fail('no_username', provider.issuer, `claim ${provider.usernameClaim} is missing or not a user name`);
    }
    if (claimedUser !== undefined && claimedUser !== '' && claimedUser.toLowerCase() !== username.toLowerCase()) {
      return fail('user_mismatch', provider.issuer, `the client named ${claimedUser}, the token names ${username}`);
    }
    return {
      ok: true,
      identity: {
        username,
        issuer: provider.issuer,
        allowedFrom: provider.allowedFrom.map((pattern) => (pattern === SELF_SENDER ? username : pattern)).filter((pattern) => pattern.includes('@')),
        ...(provider.maxMessagesPerHour !== undefined ? { maxMessagesPerHour: provider.maxMessagesPerHour } : {}),
      },
    };
  }

  /**
   * The RFC 7628 section 3.2.2 error a failed client is sent before the final 535: a JSON object
   * with `status` (RFC 6750 error codes) and, for a known issuer, where its discovery document is
   * (so a client could fetch a new token from the right place).
   */
  errorChallenge(issuer: string | undefined): Record<string, string> {
    const known = issuer !== undefined && this.providers.has(issuer);
    return {
      status: 'invalid_token',
      schemes: 'bearer',
      ...(known && /^https:\/\//.test(issuer) ? { 'openid-configuration': `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration` } : {}),
    };
  }
}

function fail(reason: OAuthFailureReason, issuer: string | undefined, detail: string): OAuthVerdict {
  return { ok: false, reason, ...(issuer !== undefined ? { issuer } : {}), detail };
}

/** jose's error classes as our reasons (logged and counted; the client only ever sees 535 5.7.8). */
function reasonOf(error: unknown): { reason: OAuthFailureReason; detail: string } {
  const detail = error instanceof Error ? error.message : String(error);
  const reason = ((): OAuthFailureReason => {
    if (error instanceof errors.JWTExpired) return 'expired';
    if (error instanceof errors.JWTClaimValidationFailed) {
      if (error.claim === 'aud') return 'wrong_audience';
      if (error.claim === 'iss') return 'wrong_issuer';
      if (error.claim === 'nbf') return 'not_yet_valid';
      return 'malformed';
    }
    if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return 'alg_not_allowed';
    if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return 'unknown_key';
    if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
    if (error instanceof KeySetUnavailable) return 'keys_unavailable';
    return 'malformed';
  })();
  return { reason, detail };
}
