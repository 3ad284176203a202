/** Small helpers on raw RFC 5322 messages: the header block, one header's value, the From domain. */

/** Byte offset where the body starts (after the blank line), or the length when there is none. */
export function headerEnd(message: Buffer): number {
  const crlf = message.indexOf('\r\n\r\n');
  if (crlf >= 0) return crlf + 4;
  const lf = message.indexOf('\n\n');
  return lf >= 0 ? lf + 2 : message.length;
}

export function headerBlock(message: Buffer): string {
  return message.subarray(0, headerEnd(message)).toString('latin1');
}

/** Unfolded value of the first header named `name`, or undefined. */
export function headerValue(headers: string, name: string): string | undefined {
  const pattern = new RegExp(`^${name}:[ \\t]*((?:.*)(?:\\r?\\n[ \\t].*)*)`, 'im');
  const match = pattern.exec(headers);
  return match ? match[1].replace(/\r?\n[ \t]/g, ' ').trim() : undefined;
}

/** The domain of the (first) From address (RFC 5322 3.6.2), lower-case, or undefined. */
export function fromDomain(message: Buffer): string | undefined {
  const from = headerValue(headerBlock(message), 'from');
  if (!from) return undefined;
  const withoutComments = from.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\([^()]*\)/g, '');
  const angle = /<([^<>]*)>/.exec(withoutComments);
  const address = (angle ? angle[1] : withoutComments.split(',')[0]).trim();
  const at = address.lastIndexOf('@');
  return at < 0 ? undefined : address.slice(at + 1).replace(/[>\s]+$/, '').toLowerCase() || undefined;
}
