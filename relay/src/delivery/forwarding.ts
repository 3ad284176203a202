/**
 * Who a spooled message goes to. Mail submitted by our users goes to its envelope recipients.
 * Mail received on `mx` for our domains is forwarded per `routes` (an exact address beats
 * `*@domain`), with the envelope sender SRS-rewritten into the routed domain; mail from the null
 * sender to an SRS address of ours is a bounce coming back, and goes to the original sender
 * un-rewritten. Only from the null sender: real bounces come from <> (RFC 5321 4.5.5), and
 * un-rewriting anything else would let whoever holds an SRS address relay through us.
 */
import type { RelayConfig } from '../config/schema';
import { localMailboxOf } from '../reports/mailboxes';
import type { SpoolEnvelope } from '../spool/envelope';
import type { RecipientState } from '../spool/state';
import { domainOf, normalizeAddress } from '../mail/address';
import { findRoute } from '../mail/address-match';
import type { Srs } from './srs';

type Route = RelayConfig['routes'][number];

/**
 * The route of a spooled recipient, by the one address model and matcher the intake accepted it
 * with (mail/), so an address accepted on `mx` always finds the route it was accepted for.
 */
export function routeFor(routes: readonly Route[], address: string, utf8 = true, exactOnly = false): Route | undefined {
  const normalized = normalizeAddress(address, { utf8 });
  if (!normalized.ok) return undefined;
  const route = findRoute(routes, normalized.mailbox);
  return exactOnly && route?.match.startsWith('*@') ? undefined : route;
}

/** The recipients of a message's first attempt, each with the envelope sender to use. */
export function planRecipients(envelope: SpoolEnvelope, config: Pick<RelayConfig, 'routes' | 'domains' | 'reports'>, srs: Srs): RecipientState[] {
  const planned = new Map<string, RecipientState>();
  const add = (to: string, original: string, mailFrom: string, status: RecipientState['status'] = 'pending', lastError?: string) => {
    const key = to.toLowerCase();
    if (!planned.has(key)) planned.set(key, { to, original, mailFrom, status, attempts: 0, ...(lastError ? { lastError, statusCode: '5.1.1', reason: 'no_route' } : {}) });
  };
  for (const rcpt of envelope.rcptTo) {
    if (envelope.origin !== 'inbound') {
      add(rcpt, rcpt, envelope.mailFrom);
      continue;
    }
    // The intake refuses SRS addresses from other senders already; this holds for messages spooled
    // before that rule (or through a catch-all route) too.
    const returned = envelope.mailFrom === '' ? srs.reverse(rcpt) : undefined;
    if (returned) {
      add(returned, rcpt, envelope.mailFrom);
      continue;
    }
    // The relay's report and complaint mailboxes are stored, not forwarded (reports/sink.ts). A
    // complaint mailbox (abuse@, RFC 2142) also reaches people by its routes, catch-all included;
    // a report mailbox only by an exact route (reports would flood a catch-all inbox).
    const mailbox = localMailboxOf(config, rcpt);
    if (mailbox) planned.set(`local:${rcpt.toLowerCase()}`, { to: rcpt, original: rcpt, mailFrom: envelope.mailFrom, status: 'pending', attempts: 0, local: mailbox });
    const route = routeFor(config.routes, rcpt, envelope.smtpUtf8, mailbox !== undefined && mailbox !== 'complaints');
    if (mailbox && !route) continue;
    const domain = domainOf(rcpt);
    if (!route) {
      add(rcpt, rcpt, envelope.mailFrom, 'bounced', 'no route for this address any more');
      continue;
    }
    const mailFrom = envelope.mailFrom === '' ? '' : srs.forward(envelope.mailFrom, domain);
    for (const target of route.forward) add(target, rcpt, mailFrom);
  }
  return [...planned.values()];
}

/**
 * Where a DSN about `envelope` goes: the original sender (never an SRS address of ours), or
 * nowhere. Never about a message with a null sender (RFC 5321 4.5.5, RFC 3464). Mail received on
 * `mx` has an envelope sender nobody vouched for, usually forged by spam, and a DSN to a forged
 * sender is backscatter to an innocent third party (RFC 3834 2 and 5, RFC 5321 6.2; M3AAWG
 * backscatter practice): so it gets one only when intake authenticated that sender (SPF pass or
 * a DKIM pass aligned with its domain, recorded in the envelope). Otherwise the failure lands in
 * the failed list (attempt.ts, spool/failed.ts).
 */
export function dsnRecipient(envelope: SpoolEnvelope, srs: Srs): string | undefined {
  if (envelope.mailFrom === '') return undefined;
  if (envelope.origin === 'inbound' && envelope.inbound?.senderAuthenticated !== true) return undefined;
  return srs.reverse(envelope.mailFrom) ?? envelope.mailFrom;
}
