/**
 * RFC 8601 section 5: a border MTA removes Authentication-Results fields that claim to come from
 * its own authserv-id before it adds its own; otherwise a sender could write
 * "Authentication-Results: mail.example.com; dmarc=pass" into a forgery and a mailbox that trusts
 * our verdicts would believe it. Only the header section is touched.
 */
import { withoutHeaderFields } from '../mail/header-section';

export function removeForgedAuthResults(message: Buffer, authservId: string): Buffer {
  const ours = authservId.toLowerCase();
  return withoutHeaderFields(message, (field) => {
    const match = /^authentication-results\s*:\s*([^;\s]+)/i.exec(field);
    return match !== null && match[1].toLowerCase() === ours;
  });
}
