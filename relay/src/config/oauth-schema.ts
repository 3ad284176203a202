/**
 * The `auth.oauth` block of the relay config (docs/clients.md "OAuth 2.0"): identity providers whose
 * JWT access tokens the submission listeners accept over SASL XOAUTH2 and OAUTHBEARER (RFC 7628).
 * Kept apart from schema.ts so the provider settings read as one piece.
 */
import { isIP } from 'node:net';
import * as z from 'zod';
import { builtOnFirstUse } from './built-on-first-use';

/**
 * `self` in allowedFrom: the address the token's usernameClaim holds, so each person may send as
 * themselves only. Anything else is an address pattern as in users[].allowedFrom.
 */
export const SELF_SENDER = 'self';

/** Loopback hosts may serve a JWKS over plain HTTP (tests, a local identity provider); others need HTTPS. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

// Built when a config with an `auth` block is first parsed (schema.ts takes them through z.lazy;
// why: built-on-first-use.ts).
export const oauthProviderSchema = builtOnFirstUse(() => {
  const senderPattern = z
    .string()
    .refine((value) => value === SELF_SENDER || /^[^@\s]+@[^@\s]+$/.test(value), `must be "${SELF_SENDER}" or an address like user@example.com or *@example.com`);
  const jwksUrl = z
    .string()
    .url()
    .refine((value) => {
      const url = new URL(value);
      return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname));
    }, 'must be an https:// URL (http:// only on loopback): the keys decide who may send');
  return z
    .object({
      // The token's `iss`, compared exactly (RFC 7519 4.1.1), e.g. https://login.microsoftonline.com/<tenant>/v2.0.
      issuer: z.string().min(1),
      jwksUrl: jwksUrl.optional(),
      jwksFile: z.string().min(1).optional(),
      // The token's `aud` must hold this value (or one of these): tokens for other services are refused.
      audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
      // The claim that names the user (RFC 7519 / OpenID Connect claim names): email, upn, preferred_username, sub.
      usernameClaim: z.string().min(1).default('email'),
      allowedFrom: z.array(senderPattern).min(1, 'must allow at least one sender address (or "self")'),
      // Overrides limits.maxMessagesPerUserPerHour for this provider's users.
      maxMessagesPerHour: z.number().int().min(1).optional(),
    })
    .strict()
    .superRefine((provider, ctx) => {
      if ((provider.jwksUrl === undefined) === (provider.jwksFile === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['jwksUrl'], message: 'give exactly one of jwksUrl or jwksFile' });
      }
    });
});

export const authSchema = builtOnFirstUse(() =>
  z
    .object({
      oauth: z.array(oauthProviderSchema()).default([]),
    })
    .strict()
    .superRefine((auth, ctx) => {
      const issuers = new Set<string>();
      auth.oauth.forEach((provider, index) => {
        if (issuers.has(provider.issuer)) ctx.addIssue({ code: 'custom', path: ['oauth', index, 'issuer'], message: 'is listed twice' });
        issuers.add(provider.issuer);
      });
    }),
);

export const authDefaults = { oauth: [] };

export type OAuthProvider = z.output<ReturnType<typeof oauthProviderSchema>>;
