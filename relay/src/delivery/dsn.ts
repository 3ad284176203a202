/**
 * Delivery status notifications (RFC 3464, carried as RFC 6522 multipart/report): one message to
 * the envelope sender listing the recipients that failed (or are delayed), with the original
 * headers attached as text/rfc822-headers. Sent from MAILER-DAEMON@<hostname> with a null envelope
 * sender (RFC 5321 4.5.5) so a DSN never causes another one; never sent to a null sender.
 */
import { randomBytes } from 'node:crypto';
import { headerBlock } from './message';

export interface DsnRecipient {
  /** Final-Recipient (where we tried to deliver). */
  recipient: string;
  /** Original-Recipient when the message was forwarded (RFC 3464 2.3.1). */
  original?: string;
  status: string;
  diagnostic?: string;
  remoteMta?: string;
}

export interface DsnInput {
  hostname: string;
  /** The address the DSN goes to (the original envelope sender). */
  to: string;
  action: 'failed' | 'delayed';
  queueId: string;
  arrivalDate: Date;
  recipients: readonly DsnRecipient[];
  originalMessage: Buffer;
  now?: Date;
}

export function buildDsn(input: DsnInput): Buffer {
  const now = input.now ?? new Date();
  const boundary = `mxkit-report-${randomBytes(8).toString('hex')}`;
  const from = `MAILER-DAEMON@${input.hostname}`;
  const failed = input.action === 'failed';
  const subject = failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)';
  const list = input.recipients.map((r) => `  <${r.recipient}>: ${r.diagnostic ?? r.status}`).join('\r\n');
  const human = failed
    ? `This is the mail system at ${input.hostname}.\r\n\r\nYour message could not be delivered to one or more recipients.\r\nIt is attached below (headers only).\r\n\r\n${list}\r\n`
    : `This is the mail system at ${input.hostname}.\r\n\r\nYour message has not been delivered yet; the relay keeps trying.\r\nYou do not need to resend it.\r\n\r\n${list}\r\n`;
  const perMessage = [`Reporting-MTA: dns; ${input.hostname}`, `X-Mxkit-Queue-ID: ${input.queueId}`, `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`];
  const perRecipient = input.recipients.map((r) =>
    [
      ...(r.original && r.original !== r.recipient ? [`Original-Recipient: rfc822; ${r.original}`] : []),
      `Final-Recipient: rfc822; ${r.recipient}`,
      `Action: ${input.action}`,
      `Status: ${r.status}`,
      ...(r.remoteMta ? [`Remote-MTA: dns; ${r.remoteMta}`] : []),
      ...(r.diagnostic ? [`Diagnostic-Code: smtp; ${oneLine(r.diagnostic)}`] : []),
      ...(input.action === 'delayed' ? [`Last-Attempt-Date: ${rfc5322Date(now)}`] : []),
    ].join('\r\n'),
  );
  const originalHeaders = headerBlock(input.originalMessage).replace(/(\r?\n)+$/, '').replace(/\r?\n/g, '\r\n');
  const lines = [
    `From: Mail Delivery System <${from}>`,
    `To: <${input.to}>`,
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${input.queueId}.${randomBytes(4).toString('hex')}@${input.hostname}>`,
    'Auto-Submitted: auto-replied', // RFC 3834 5: automatic responses must not be answered
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated delivery status notification.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    human,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    perMessage.join('\r\n'),
    '',
    perRecipient.join('\r\n\r\n'),
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    originalHeaders,
    '',
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ').replace(/[^\x20-\x7e]/g, '?');
}

function rfc5322Date(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}
