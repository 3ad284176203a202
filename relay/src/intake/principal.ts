/**
 * Who an authenticated session speaks for, however it logged in: a password user from `users`, or
 * a user an OAuth token named (`auth.oauth`). MAIL FROM, the From: check and the sending limit ask
 * this, never the config's user list, so both kinds are held to the same rules.
 */
import type { RelayConfig } from '../config/schema';
import type { OAuthIdentity } from './oauth/token-verifier';

export interface Principal {
  username: string;
  /** Address patterns the user may send as (users[].allowedFrom, or the provider's with `self` resolved). */
  allowedFrom: readonly string[];
  /** Messages per sliding hour; undefined: limits.maxMessagesPerUserPerHour. */
  maxMessagesPerHour?: number;
  via: 'password' | 'oauth';
  /** The token's issuer, for OAuth users. */
  issuer?: string;
}

export function passwordPrincipal(user: RelayConfig['users'][number]): Principal {
  return {
    username: user.username,
    allowedFrom: user.allowedFrom,
    ...(user.maxMessagesPerHour !== undefined ? { maxMessagesPerHour: user.maxMessagesPerHour } : {}),
    via: 'password',
  };
}

export function oauthPrincipal(identity: OAuthIdentity): Principal {
  return {
    username: identity.username,
    allowedFrom: identity.allowedFrom,
    ...(identity.maxMessagesPerHour !== undefined ? { maxMessagesPerHour: identity.maxMessagesPerHour } : {}),
    via: 'oauth',
    issuer: identity.issuer,
  };
}
