/** The Received trace header we prepend (RFC 5321 4.4; protocol names from RFC 3848). */
import type { SMTPServerSession } from 'smtp-server';

export function receivedHeader(session: SMTPServerSession, hostname: string, queueId: string, now = new Date()): string {
  const protocol = `ESMTP${session.secure ? 'S' : ''}${session.user ? 'A' : ''}`;
  const helo = sanitize(session.hostNameAppearsAs || 'unknown');
  const ip = session.remoteAddress.replace(/^::ffff:/i, '');
  const tls = session.secure && session.tlsOptions ? ` (${session.tlsOptions.version} ${session.tlsOptions.name})` : '';
  const recipients = session.envelope.rcptTo.length === 1 ? `\r\n\tfor <${sanitize(session.envelope.rcptTo[0].address)}>` : '';
  return `Received: from ${helo} ([${ip}])\r\n\tby ${hostname} (mxkit) with ${protocol}${tls} id ${queueId}${recipients};\r\n\t${now.toUTCString().replace('GMT', '+0000')}\r\n`;
}

function sanitize(text: string): string {
  return text.replace(/[^\x21-\x7e]/g, '?');
}
