/**
 * What the local DNS serves: every domain's records come from the infra's pure builder, the same
 * call a real stack makes for its Cloudflare zone, only with loopback addresses. So a record the
 * builder gets wrong fails here first, on a laptop, not in production.
 */
import { buildMailRecords, defaultReportMailboxes, type DnsRecord, type SubmissionPorts } from '../../../infra/builders/records';
import type { ServedRecord } from './dns-server';
import { ptrRecords, REVERSE_ZONE } from './reverse-zone';
import {
  DKIM_SELECTOR,
  INBOX_DOMAIN,
  INBOX_HOSTNAME,
  INBOX_IP,
  MAIL_DOMAIN,
  MAIL_HOSTNAME,
  MAIL_IP,
  MTA_STS,
  SENDER_DKIM_SELECTOR,
  SENDER_DOMAIN,
  SENDER_HOSTNAME,
  SENDER_IP,
} from './settings';

export interface ZoneKeys {
  /** PEM public key of the relay's DKIM key (state folder dkim.key). */
  mailDkim: string;
  /** PEM public key of the third-party sender's DKIM key (state folder sender-dkim.key). */
  senderDkim: string;
}

/** The relay's submission ports once it listens: the SRV records point mail clients at them. */
export type LocalSubmissionPorts = SubmissionPorts;

/** The mail domains the local DNS is authoritative for. */
export const LOCAL_ZONES = [MAIL_DOMAIN, INBOX_DOMAIN, SENDER_DOMAIN] as const;
/** Every zone apex the local DNS answers for; anything else is refused, it never recurses out. */
export const SERVED_ZONES = [...LOCAL_ZONES, REVERSE_ZONE] as const;

/** The mail domain's records exactly as the real stack would publish them for MAIL_IP. */
export function mailDomainRecords(dkimPublicKey: string, submissionPorts?: SubmissionPorts): DnsRecord[] {
  return buildMailRecords({
    domain: MAIL_DOMAIN,
    hostname: MAIL_HOSTNAME,
    ipv4: MAIL_IP,
    dkim: { selector: DKIM_SELECTOR, publicKey: dkimPublicKey },
    mtaSts: MTA_STS,
    reportMailboxes: defaultReportMailboxes(MAIL_DOMAIN),
    ...(submissionPorts ? { submissionPorts } : {}),
  });
}

/** Every record the local DNS serves; the submission SRV records only once the relay's ports are known. */
export function localRecords(keys: ZoneKeys, submissionPorts?: SubmissionPorts): ServedRecord[] {
  const forward = [
    ...mailDomainRecords(keys.mailDkim, submissionPorts),
    // The inbox's domain: MX -> mx.inbox.test -> 127.0.0.2, with SPF/DMARC like any provider's.
    ...buildMailRecords({ domain: INBOX_DOMAIN, hostname: INBOX_HOSTNAME, ipv4: INBOX_IP }),
    // The third party: sends from 127.0.0.3 and signs with its own key, so forwarded mail has real
    // SPF and DKIM results to carry in the ARC chain.
    ...buildMailRecords({
      domain: SENDER_DOMAIN,
      hostname: SENDER_HOSTNAME,
      ipv4: SENDER_IP,
      dkim: { selector: SENDER_DKIM_SELECTOR, publicKey: keys.senderDkim },
    }),
  ];
  // Each host's address points back to it, as a real sender's must: receivers check PTR (and
  // `mxkit check` fails without it).
  return [...forward, ...ptrRecords(forward, [MAIL_HOSTNAME, INBOX_HOSTNAME, SENDER_HOSTNAME])];
}
