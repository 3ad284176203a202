/** The Received trace header we prepend (RFC 5321 4.4; protocol names from RFC 3848). */
import type { SMTPServerSession } from 'smtp-server';

export function receivedHeader(session: SMTPServerSession, hostname: string, queueId: string, recipients: readonly string[], now = new Date()): string {
  const protocol = `ESMTP${session.secure ? 'S' : ''}${session.user ? 'A' : ''}`;
  const helo = sanitize(session.hostNameAppearsAs || 'unknown');
  const ip = session.remoteAddress.replace(/^::ffff:/i, '');
  const tls = session.secure && session.tlsOptions ? ` (${session.tlsOptions.version} ${session.tlsOptions.name})` : '';
  const forClause = recipients.length === 1 ? `\r\n\tfor <${sanitize(recipients[0])}>` : '';
  return `Received: from ${helo} ([${ip}])\r\n\tby ${hostname} (mxkit) with ${protocol}${tls} id ${queueId}${forClause};\r\n\t${now.toUTCString().replace('GMT', '+0000')}\r\n`;
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

function sanitize(text: string): string {
  return text.replace(/[^\x21-\x7e]/g, '?');
}
