/**
 * What a message submission agent does to a submitted message's header section (RFC 6409 section
 * 8): add `Date:` (8.2) and `Message-ID:` (8.3) when the client left them out -- RFC 5322 3.6
 * requires Date, and receivers' filters score mail without them (SpamAssassin MISSING_DATE,
 * MISSING_MID) -- and remove `Bcc:` (and `Resent-Bcc:`), whose addresses must not reach the other
 * recipients (RFC 5322 3.6.3). Everything else is kept byte for byte. Pure: bytes in, bytes out.
 */
import { randomBytes } from 'node:crypto';
import { parseHeaderSection } from '../../mail/header-section';

export interface SubmissionHeaderContext {
  now: Date;
  /** The sending domain, right of the @ in a generated Message-ID. */
  messageIdDomain: string;
  /** Part of a generated Message-ID, so it can be found in the logs. */
  queueId: string;
}

export interface SubmissionHeaderResult {
  header: Buffer;
  /** Fields added, e.g. `Date`, `Message-ID` (for the log). */
  added: string[];
  /** Bcc/Resent-Bcc fields removed. */
  removedBcc: number;
}

const REMOVED = new Set(['bcc', 'resent-bcc']);

/** RFC 5322 3.3 date-time in UTC: `Tue, 1 Jan 2030 10:00:00 +0000` (not the obsolete "GMT"). */
export function rfc5322Date(date: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (value: number) => String(value).padStart(2, '0');
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  return `${days[date.getUTCDay()]}, ${date.getUTCDate()} ${months[date.getUTCMonth()]} ${date.getUTCFullYear()} ${time} +0000`;
}

/** `header` is the header section as received, with or without the empty line that ends it. */
export function completeSubmissionHeader(header: Buffer, context: SubmissionHeaderContext): SubmissionHeaderResult {
  const text = header.toString('latin1');
  const parsed = parseHeaderSection(text);
  // A header section that does not parse is judged elsewhere (From: check); it is not edited.
  if (!parsed.ok) return { header, added: [], removedBcc: 0 };
  const hasBlankLine = text.endsWith('\r\n\r\n');
  const body = text.replace(/(?:\r\n)+$/, '');
  const kept: string[] = [];
  let removedBcc = 0;
  let dropping = false;
  for (const line of body === '' ? [] : body.split('\r\n')) {
    const continuation = line.startsWith(' ') || line.startsWith('\t');
    if (!continuation) {
      dropping = REMOVED.has(line.slice(0, line.indexOf(':')).toLowerCase());
      if (dropping) removedBcc++;
    }
    if (!dropping) kept.push(line);
  }
  const names = new Set(parsed.fields.map((field) => field.name));
  const added: string[] = [];
  if (!names.has('date')) {
    kept.push(`Date: ${rfc5322Date(context.now)}`);
    added.push('Date');
  }
  if (!names.has('message-id')) {
    kept.push(`Message-ID: <${context.queueId}.${randomBytes(6).toString('hex')}@${context.messageIdDomain}>`);
    added.push('Message-ID');
  }
  if (added.length === 0 && removedBcc === 0) return { header, added, removedBcc };
  const rebuilt = kept.map((line) => `${line}\r\n`).join('') + (hasBlankLine || text === '' ? '\r\n' : '');
  return { header: Buffer.from(rebuilt, 'latin1'), added, removedBcc };
}
