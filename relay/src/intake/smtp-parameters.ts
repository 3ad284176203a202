/**
 * MAIL FROM / RCPT TO parameters (RFC 5321 4.1.1.11 / 4.1.2 esmtp-param): only those of
 * extensions we advertise are accepted; anything else gets `555 5.5.4` ("MAIL FROM/RCPT TO
 * parameters not recognized or not implemented"). We advertise SIZE (RFC 1870), 8BITMIME (BODY=,
 * RFC 6152) and SMTPUTF8 (RFC 6531) everywhere, and AUTH (AUTH=, RFC 4954 5) where the session
 * offers AUTH; never DSN (RET, ENVID, NOTIFY, ORCPT: RFC 3461) or REQUIRETLS (RFC 8689), whose
 * promises we do not keep. smtp-server would accept those silently, so the MAIL check runs first
 * thing in its parameter validation (patches/smtp-server.ts mailParameterCheck, given this rule by
 * listeners.ts), and RCPT's in our RCPT handler.
 */
import { SmtpReply } from './reply';

const MAIL_PARAMETERS = new Set(['SIZE', 'BODY', 'SMTPUTF8']);

export function unsupportedParameter(command: 'MAIL' | 'RCPT', args: Record<string, unknown> | false | undefined, authOffered: boolean): SmtpReply | undefined {
  for (const name of Object.keys(args || {})) {
    const upper = name.toUpperCase();
    const supported = command === 'MAIL' && (MAIL_PARAMETERS.has(upper) || (upper === 'AUTH' && authOffered));
    if (!supported) return new SmtpReply(555, '5.5.4', `${command === 'MAIL' ? 'MAIL FROM' : 'RCPT TO'} parameter ${upper.replace(/[^\x21-\x7e]/g, '?').slice(0, 32)} not supported here`, 'unsupported_parameter');
  }
  return undefined;
}
