/**
 * The one matcher: config patterns (routes[].match, users[].allowedFrom) against normalised
 * mailboxes (address.ts). Patterns are normalised when the config is parsed, so both sides are
 * in the same form here: `local@domain` or `*@domain`, domain in lower-case A-labels. Domains
 * compare exactly, local parts without regard to case (as Postfix and most mailbox stores do,
 * though RFC 5321 2.4 lets a host tell them apart).
 */
import type { Mailbox } from './address';

export function addressMatches(pattern: string, mailbox: Mailbox): boolean {
  const at = pattern.lastIndexOf('@');
  if (pattern.slice(at + 1) !== mailbox.domain) return false;
  const local = pattern.slice(0, at);
  return local === '*' || local.toLowerCase() === mailbox.local.toLowerCase();
}

export interface RoutePattern {
  match: string;
}

/** The most specific route for a mailbox: an exact match wins over `*@domain`. */
export function findRoute<T extends RoutePattern>(routes: readonly T[], mailbox: Mailbox): T | undefined {
  return (
    routes.find((route) => !route.match.startsWith('*@') && addressMatches(route.match, mailbox)) ??
    routes.find((route) => route.match.startsWith('*@') && addressMatches(route.match, mailbox))
  );
}

export function anyMatches(patterns: readonly string[], mailbox: Mailbox): boolean {
  return patterns.some((pattern) => addressMatches(pattern, mailbox));
}
