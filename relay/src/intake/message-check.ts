/**
 * What a message check is (message-checks.ts runs them): the message as it will be stored, and
 * what a check may answer. Its own module so each check (content-scan.ts, ...) implements it
 * without importing the runner that lists it.
 */
import type { Readable } from 'node:stream';
import type { Logger } from '../ops/logger';
import type { DnsblListing } from '../spam/spam-filter';
import type { SpoolEnvelope } from '../spool/envelope';

export interface CheckedMessage {
  envelope: SpoolEnvelope;
  /** HELO/EHLO name, or the client address when there was none. */
  helo: string;
  /** The DNS block lists that have the client (mx), asked at connect. */
  listings(): Promise<readonly DnsblListing[]>;
  /** Bytes of the message as `open()` gives it. */
  size: number;
  /** A new stream of the message as it will be stored now: earlier checks' headers, our Received, the rest. */
  open(): Readable;
  log: Logger;
}

export interface CheckVerdict {
  /** Header lines to prepend, CRLF-terminated ('' for none). */
  headers: string;
  /** A Subject to replace the message's with (rspamd's "rewrite subject"). */
  subject?: string;
}

export interface MessageCheck {
  /** For logs and metrics. */
  name: string;
  run(message: CheckedMessage): Promise<CheckVerdict>;
}
