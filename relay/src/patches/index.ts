/**
 * Every run-time patch of another module, in one place (docs/architecture.md "Patches"). Each one
 * replaces a method we cannot otherwise change; each is checked before it is installed -- the
 * method exists, with the number of parameters it was written against -- so an upgrade of the
 * patched module that moves things makes start-up refuse with a message naming the module and its
 * version, instead of the relay running with the patch silently gone. Each patch keeps upstream's
 * behaviour wherever it does not deliberately change it, and test/relay/patches.test.ts pins each.
 *
 * - smtp-server (smtp-server.ts): the greeting delay, our enhanced status codes, the envelope
 *   address as sent, MAIL FROM parameters, the session lifecycle (deadlines, connection slots);
 * - smtp-server's SASL table (smtp-server-sasl.ts): XOAUTH2 replaced and OAUTHBEARER added, each
 *   running the mechanism a listener names (OAuth 2.0 bearer tokens, intake/oauth/);
 * - node:crypto (crypto-keys.ts): the DKIM keys we sign with, parsed once;
 * - acme-client (acme-client.ts): no request retries of its own. Installed by the ACME manager
 *   when it is made (tls/acme-manager.ts), not by installPatches: acme-client and its HTTP and X.509
 *   libraries are loaded only when tls.acme is on (scripts/bundle-excludes.mjs "cold packages"),
 *   and evaluating them at every start cost ~120 ms of the start-up budget (docs/benchmarks.md).
 *   It is still checked and installed at start whenever ACME is used.
 */
import { privateKeyCache } from './crypto-keys';
import { installedReplacements, PatchError, patchProblem, type AnyMethod, type MethodPatch } from './method-patch';
import { enhancedStatusPassthrough, greetingDelay, mailParameterCheck, rawEnvelopeAddress, sessionClosed, sessionCommand, sessionOpened } from './smtp-server';
import { saslOauthBearer, saslXoauth2 } from './smtp-server-sasl';

export { PatchError, patchProblem } from './method-patch';
export { rememberPrivateKey } from './crypto-keys';
export type { PatchedServerOptions, SessionLifecycle, SmtpConnectionInternals, WireReply } from './smtp-server';
export type { SaslConnectionInternals, SaslMechanism } from './smtp-server-sasl';

/**
 * In installation order: a later patch of the same method wraps the earlier one (the session
 * lifecycle hears of a session before the greeting-delay init runs).
 */
export const METHOD_PATCHES: readonly MethodPatch[] = [
  greetingDelay,
  enhancedStatusPassthrough,
  rawEnvelopeAddress,
  mailParameterCheck,
  sessionOpened,
  sessionCommand,
  sessionClosed,
  saslXoauth2,
  saslOauthBearer,
  privateKeyCache,
];

let installed = false;

/**
 * Checks every patch, then installs them all (once per process). Throws a PatchError naming the
 * module and version when one does not fit: the relay does not start without its patches.
 */
export function installPatches(): void {
  if (installed) return;
  const problems = METHOD_PATCHES.map((patch) => patchProblem(patch)).filter((problem): problem is string => problem !== undefined);
  if (problems.length > 0) throw new PatchError(`${problems.join('; ')} -- this version is not supported by the relay (relay/src/patches)`);
  for (const patch of METHOD_PATCHES) {
    const owner = patch.owner();
    const replacement = patch.replace(owner[patch.method] as AnyMethod);
    installedReplacements.add(replacement);
    owner[patch.method] = replacement;
  }
  installed = true;
}
