/**
 * Who may send what (../shared/design.md "Relay behaviour"): envelope address syntax, routes for
 * our domains, users' allowed senders and trusted networks. Pure functions, no I/O.
 */
import { BlockList, isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import addressparser from 'nodemailer/lib/addressparser';
import type { RelayConfig } from '../config/schema';
import { localMailboxOf } from '../reports/mailboxes';
import { Replies, SmtpReply } from './reply';
import type { InboundMessage, InboundVerdict } from '../inbound-check';

export interface Mailbox {
  local: string;
  /** Lower-case A-label form. */
  domain: string;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Parses an envelope address and refuses every form that classic open-relay tricks use: more than
 * one `@` (source routes `@a:b@c`, quoted local parts holding `@`), `%`-hack and `!` (UUCP bang)
 * paths, quoted local parts, IP-literal domains and trailing-dot or otherwise malformed domains.
 * Returns undefined for anything it refuses.
 */
export function parseMailbox(address: string): Mailbox | undefined {
  if (address.length === 0 || address.length > 254) return undefined;
  const at = address.lastIndexOf('@');
  if (at <= 0 || address.indexOf('@') !== at) return undefined;
  const local = address.slice(0, at);
  const rawDomain = address.slice(at + 1);
  if (/["%!\\\s:,;<>()[\]]/.test(local) || local.length > 64) return undefined;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return undefined;
  if (rawDomain.startsWith('[') || isIP(rawDomain) !== 0) return undefined;
  const domain = domainToASCII(rawDomain).toLowerCase();
  if (!domain || domain.endsWith('.') || domain.length > 253) return undefined;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((label) => LABEL.test(label))) return undefined;
  return { local, domain };
}

export function formatMailbox(mailbox: Mailbox): string {
  return `${mailbox.local}@${mailbox.domain}`;
}

/** `pattern` is an exact address or `*@domain`; comparison is case-insensitive. */
export function addressMatches(pattern: string, mailbox: Mailbox): boolean {
  const [patternLocal, patternDomain] = pattern.toLowerCase().split('@');
  if (domainToASCII(patternDomain) !== mailbox.domain) return false;
  return patternLocal === '*' || patternLocal === mailbox.local.toLowerCase();
}

export type Route = RelayConfig['routes'][number];

/** The most specific route for a mailbox: an exact match wins over `*@domain`. */
export function findRoute(routes: readonly Route[], mailbox: Mailbox): Route | undefined {
  return (
    routes.find((route) => !route.match.startsWith('*@') && addressMatches(route.match, mailbox)) ??
    routes.find((route) => route.match.startsWith('*@') && addressMatches(route.match, mailbox))
  );
}

/** Recipient policy of the `mx` listener: only routed addresses in our own domains. */
export function checkInboundRecipient(config: Pick<RelayConfig, 'domains' | 'routes' | 'reports'>, address: string): SmtpReply | undefined {
  const mailbox = parseMailbox(address);
  if (!mailbox) return Replies.badRecipientSyntax(address);
  if (!config.domains.includes(mailbox.domain)) return Replies.relayDenied();
  // The relay's own report and complaint mailboxes (reports/mailboxes.ts) need no route.
  if (!findRoute(config.routes, mailbox) && !localMailboxOf(config, formatMailbox(mailbox))) return Replies.unknownUser(address);
  return undefined;
}

/**
 * An SRS return address (SRS0=... / SRS1=..., any case, any of the `=+-` separators): the address a
 * bounce to mail we forwarded comes back to. Such addresses are accepted on `mx` only from the null
 * sender, and only when their hash and age check out (session-handlers.ts onRcptTo).
 */
export function isSrsAddress(address: string): boolean {
  return /^SRS[01][=+-]/i.test(address);
}

export function senderAllowed(allowedFrom: readonly string[], address: string): boolean {
  const mailbox = parseMailbox(address);
  return mailbox !== undefined && allowedFrom.some((pattern) => addressMatches(pattern, mailbox));
}

/** Trusted networks (like Postfix mynetworks) as a BlockList; empty unless configured. */
export function trustedNetworkList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

export function isTrusted(list: BlockList, remoteAddress: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  const address = mapped ? mapped[1] : remoteAddress;
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  return isIP(address) !== 0 && list.check(address, family);
}

/** Replies of the inbound authentication check at DATA (kept as data, like Replies). */
export const InboundReplies = {
  // RFC 7489 7.2 / RFC 7372 3.2: a DMARC p=reject failure is refused during the SMTP transaction.
  dmarcReject: (domain: string) => new SmtpReply(550, '5.7.1', `Rejected by the DMARC policy of ${domain}`),
  authCheckFailed: () => new SmtpReply(451, '4.7.0', 'Temporary failure checking the message authentication, try again later'),
} as const;

/** What the `mx` listener needs from inbound authentication (implemented in delivery/, wired by relay.ts). */
export interface InboundHooks {
  check(input: InboundMessage): Promise<InboundVerdict>;
  /** A valid SRS address of ours: a bounce coming back for mail we forwarded. */
  isReturnAddress(address: string): boolean;
}

/** The addresses of every From: field in a header section (folded lines joined, RFC 5322 2.2.3). */
export function headerFromAddresses(headerSection: string): string[] {
  const unfolded = headerSection.replace(/\r\n[ \t]+/g, ' ');
  return unfolded
    .split('\r\n')
    .filter((line) => /^from\s*:/i.test(line))
    .flatMap((line) => addressparser(line.slice(line.indexOf(':') + 1), { flatten: true }))
    .map((entry) => entry.address)
    .filter((address) => address !== '');
}

/**
 * An authenticated user may put in From: only addresses their allowedFrom covers: the DKIM key
 * is chosen by the From: domain, so otherwise a user could have us sign as anyone we hold a key
 * for. A message without From: gets no signature and is left to the next hop to judge.
 */
export function headerFromRefusal(allowedFrom: readonly string[], headerSection: string): SmtpReply | undefined {
  const stranger = headerFromAddresses(headerSection).find((address) => !senderAllowed(allowedFrom, address));
  return stranger === undefined ? undefined : Replies.headerFromNotAllowed(stranger);
}
