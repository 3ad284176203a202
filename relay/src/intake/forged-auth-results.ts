/**
 * RFC 8601 section 5: a border MTA removes Authentication-Results fields that claim to come from
 * its own authserv-id before it adds its own; otherwise a sender could write
 * "Authentication-Results: mail.example.com; dmarc=pass" into a forgery and a mailbox that trusts
 * our verdicts would believe it. Only the header section is touched.
 */
export function removeForgedAuthResults(message: Buffer, authservId: string): Buffer {
  const text = message.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const headerEnd = end < 0 ? text.length : end + 2;
  const fields = text.slice(0, headerEnd).split(/\r\n(?![ \t])/);
  const ours = authservId.toLowerCase();
  const kept = fields.filter((field) => {
    const match = /^authentication-results\s*:\s*([^;\s]+)/i.exec(field);
    return !match || match[1].toLowerCase() !== ours;
  });
  if (kept.length === fields.length) return message;
  return Buffer.from(kept.join('\r\n') + text.slice(headerEnd), 'latin1');
}
