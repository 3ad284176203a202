/**
 * Who may send what (docs/contracts.md "Relay behaviour"): envelope address syntax, routes for
 * our domains, users' allowed senders and trusted networks. Pure functions, no I/O.
 */
import { BlockList, isIP } from 'node:net';
import type { RelayConfig } from '../config/schema';
import { formatMailbox, type Mailbox } from '../mail/address';
import { anyMatches, findRoute } from '../mail/address-match';
import { readFrom } from '../mail/from-field';
import { localMailboxOf } from '../reports/mailboxes';
import { Replies, SmtpReply } from './reply';
import type { InboundMessage, InboundVerdict } from '../inbound-check';

/** Recipient policy of the `mx` listener: only routed addresses in our own domains. */
export function checkInboundRecipient(config: Pick<RelayConfig, 'domains' | 'routes' | 'reports'>, mailbox: Mailbox): SmtpReply | undefined {
  if (!config.domains.includes(mailbox.domain)) return Replies.relayDenied();
  // The relay's own report and complaint mailboxes (reports/mailboxes.ts) need no route.
  if (!findRoute(config.routes, mailbox) && !localMailboxOf(config, formatMailbox(mailbox))) return Replies.unknownUser(formatMailbox(mailbox));
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

export function senderAllowed(allowedFrom: readonly string[], mailbox: Mailbox | undefined): boolean {
  return mailbox !== undefined && anyMatches(allowedFrom, mailbox);
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
  dmarcReject: (domain: string) => new SmtpReply(550, '5.7.1', `Rejected by the DMARC policy of ${domain}`, 'dmarc_reject'),
  authCheckFailed: () => new SmtpReply(451, '4.7.0', 'Temporary failure checking the message authentication, try again later', 'auth_check_failed'),
} as const;

/** What the `mx` listener needs from inbound authentication (implemented in delivery/, wired by relay.ts). */
export interface InboundHooks {
  check(input: InboundMessage): Promise<InboundVerdict>;
  /** A valid SRS address of ours: a bounce coming back for mail we forwarded. */
  isReturnAddress(address: string): boolean;
}

/**
 * The From: of a message submitted for signing, read by the same reader the DKIM signer uses
 * (mail/from-field.ts): a From: that cannot be read one way only is refused, and an authenticated
 * user may put in it only addresses their allowedFrom covers -- the signing key is chosen by the
 * From: domain, so otherwise a user could have us sign as any domain we hold a key for. A message
 * without From: gets no signature and is left to the next hop to judge. `allowedFrom` undefined:
 * a trusted network's client, whose From: only has to be readable.
 */
export function headerFromRefusal(allowedFrom: readonly string[] | undefined, headerSection: string, utf8: boolean): SmtpReply | undefined {
  const from = readFrom(headerSection, { utf8 });
  if (from.kind === 'ambiguous') return Replies.headerFromUnreadable(from.problem);
  if (from.kind === 'absent' || allowedFrom === undefined) return undefined;
  const stranger = from.mailboxes.find((mailbox) => !senderAllowed(allowedFrom, mailbox));
  return stranger === undefined ? undefined : Replies.headerFromNotAllowed(formatMailbox(stranger));
}
