/**
 * The seam between intake and delivery for mail arriving on `mx`: intake asks, delivery/inbound.ts
 * answers, relay.ts wires them. Types only, so neither side imports the other.
 */
import type { Readable } from 'node:stream';

export interface InboundMessage {
  /** The message as it will be spooled (our Received header first), streamed from the spool's temp file. */
  message: Readable;
  clientAddress: string;
  helo: string;
  /** Envelope sender ('' for the null sender). */
  mailFrom: string;
  /** Our domain the message was addressed to (picks the ARC sealing key). */
  recipientDomain: string;
}

export interface InboundVerdict {
  action: 'accept' | 'quarantine' | 'reject';
  /** Header lines to prepend (ARC set, Received-SPF, Authentication-Results), CRLF-terminated. */
  headers: string;
  spf: string;
  dkim: string;
  dmarc: string;
  /** The From domain whose DMARC policy applied. */
  dmarcDomain?: string;
  arc: string;
  /** The d= of a passing DKIM signature aligned with the envelope sender's domain. */
  alignedDkim?: string;
  /** SPF pass or aligned DKIM pass for the envelope sender: a DSN to it would not be backscatter. */
  senderAuthenticated: boolean;
  /** Our Authentication-Results value (without the field name), as sealed into the ARC set. */
  authResults: string;
}
