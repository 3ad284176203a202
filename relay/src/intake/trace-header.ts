/**
 * The Received trace header we prepend (RFC 5321 4.4). Protocol names are the registered "with"
 * keywords: ESMTP, ESMTPS, ESMTPA, ESMTPSA (RFC 3848), and UTF8SMTP, UTF8SMTPS, UTF8SMTPA,
 * UTF8SMTPSA when the client asked for SMTPUTF8 (RFC 6531 3.7.4.1). The client address is an
 * RFC 5321 4.1.3 address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`). Under SMTPUTF8 the
 * recipient in `for <...>` stays UTF-8 (RFC 6531 3.7.4.2 lets trace fields carry it); otherwise
 * anything that is not printable ASCII becomes `?`.
 */
import { isIPv6 } from 'node:net';
import type { SMTPServerSession } from 'smtp-server';

export function protocolName(session: Pick<SMTPServerSession, 'secure' | 'user' | 'envelope'>): string {
  const base = session.envelope.smtpUtf8 ? 'UTF8SMTP' : 'ESMTP';
  return `${base}${session.secure ? 'S' : ''}${session.user ? 'A' : ''}`;
}

export function addressLiteral(remoteAddress: string): string {
  const ip = remoteAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  return isIPv6(ip) ? `[IPv6:${ip}]` : `[${ip}]`;
}

/** The header as text; write it as UTF-8 (it is ASCII unless SMTPUTF8 kept a UTF-8 recipient). */
export function receivedHeader(session: SMTPServerSession, hostname: string, queueId: string, recipients: readonly string[], now = new Date()): string {
  const helo = ascii(session.hostNameAppearsAs || 'unknown');
  const tls = session.secure && session.tlsOptions ? ` (${session.tlsOptions.version} ${session.tlsOptions.name})` : '';
  const utf8 = session.envelope.smtpUtf8 === true;
  const forClause = recipients.length === 1 ? `\r\n\tfor <${utf8 ? printable(recipients[0]) : ascii(recipients[0])}>` : '';
  return `Received: from ${helo} (${addressLiteral(session.remoteAddress)})\r\n\tby ${hostname} (mxkit) with ${protocolName(session)}${tls} id ${queueId}${forClause};\r\n\t${now.toUTCString().replace('GMT', '+0000')}\r\n`;
}

/**
 * The queue id our own Received header (above) carries, from a header section: how a message met
 * later (in an inbox, in a complaint) leads back to `mxkit trace`. Only `by <hostname> (mxkit)`
 * lines count, so another host's header cannot name one of our messages.
 */
export function queueIdFromReceived(headerSection: string, hostname: string): string | undefined {
  const unfolded = headerSection.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    if (!/^received:/i.test(line) || !line.includes(`by ${hostname} (mxkit)`)) continue;
    const id = /\bid ([0-9A-Z]{19})\b/.exec(line)?.[1];
    if (id) return id;
  }
  return undefined;
}

function ascii(text: string): string {
  return text.replace(/[^\x21-\x7e]/g, '?');
}

/** UTF-8 kept; controls, spaces and the brackets that would end the clause are not. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  return text.replace(/[\x00-\x20\x7f<>]/g, '?');
}
