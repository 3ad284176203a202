/** Small helpers on raw RFC 5322 messages: the header block (the From: reader is mail/from-field.ts). */

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
