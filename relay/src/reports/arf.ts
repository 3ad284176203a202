/**
 * Abuse Reporting Format complaints (RFC 5965): a multipart/report with a machine-readable
 * message/feedback-report part and the original message (or its headers). What the relay needs
 * from one: the feedback type, who complained (Original-Rcpt-To, RFC 5965 3.2; else the original's
 * single To: address -- many feedback loops redact the rest), and which of our messages it was
 * (the queue id in our own Received header of the original).
 */
import addressparser from 'nodemailer/lib/addressparser';
import { queueIdFromReceived } from '../intake/trace-header';
import { headerValue, leafParts, splitHeaders, type MimePart } from './mime';

export interface Complaint {
  feedbackType: string;
  /** The complaining recipient, when the report says. */
  recipient?: string;
  reporter?: string;
  sourceIp?: string;
  arrivalDate?: string;
  /** Header From: of the original. */
  originalFrom?: string;
  /** Our queue id of the original, from our Received header. */
  queueId?: string;
}

const clip = (text: string | undefined, max = 255) => (text === undefined ? undefined : text.replace(/[^\x20-\x7e]/g, '?').slice(0, max));

function address(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const found = addressparser(text.replace(/^rfc822;\s*/i, ''), { flatten: true }).map((entry) => entry.address).filter((value) => /^[^@\s]+@[^@\s]+$/.test(value));
  return found.length === 1 ? clip(found[0], 320) : undefined;
}

export function parseArf(message: Buffer, hostname: string): Complaint | undefined {
  const parts = leafParts(message);
  const report = parts.find((part) => part.contentType === 'message/feedback-report');
  if (!report) return undefined;
  // The feedback-report body is a header block of its own (RFC 5965 3.1).
  const fields = splitHeaders(Buffer.concat([report.body, Buffer.from('\r\n\r\n')])).headers;
  const original = parts.find((part) => part.contentType === 'message/rfc822' || part.contentType === 'text/rfc822-headers');
  const originalHeaders = original ? originalHeaderSection(original) : '';
  const feedbackType = clip(headerValue(fields, 'feedback-type')?.toLowerCase(), 64) ?? 'abuse';
  const recipient = address(headerValue(fields, 'original-rcpt-to')) ?? address(headerValue(fields, 'removal-recipient')) ?? address(headerValue(originalHeaders, 'to'));
  const queueId = queueIdFromReceived(originalHeaders, hostname);
  return {
    feedbackType,
    ...(recipient ? { recipient } : {}),
    ...optional('reporter', clip(headerValue(fields, 'reporting-mta') ?? headerValue(fields, 'user-agent'))),
    ...optional('sourceIp', clip(headerValue(fields, 'source-ip'), 64)),
    ...optional('arrivalDate', clip(headerValue(fields, 'arrival-date'), 64)),
    ...optional('originalFrom', address(headerValue(originalHeaders, 'from'))),
    ...(queueId ? { queueId } : {}),
  };
}

function originalHeaderSection(part: MimePart): string {
  return splitHeaders(part.contentType === 'text/rfc822-headers' ? Buffer.concat([part.body, Buffer.from('\r\n\r\n')]) : part.body).headers;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}
