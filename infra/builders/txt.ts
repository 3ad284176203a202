/**
 * TXT record character-strings. RFC 1035 §3.3.14: TXT RDATA is one or more <character-string>s,
 * each at most 255 octets (§3.3). DKIM (RFC 6376 §3.6.2.2) and SPF (RFC 7208 §3.3) concatenate
 * them without separators, so a long value is split into 255-octet pieces.
 *
 * Why split ourselves: Cloudflare's API stores TXT content as quoted character-strings and splits
 * longer strings on write (developers.cloudflare.com/dns/manage-dns-records/reference/dns-record-types/#txt);
 * if we send one long unquoted value, the value read back differs from the one we sent and every
 * preview shows a diff (cloudflare/terraform-provider-cloudflare#6238). Sending exactly the form
 * Cloudflare stores — deterministic 255-octet chunks, each quoted, joined by one space — does not drift.
 */

export const TXT_STRING_MAX = 255;

/** Split on octet boundaries (values here are ASCII; multi-byte text is never cut mid-character). */
export function splitTxt(value: string, max = TXT_STRING_MAX): string[] {
  if (value === '') return [''];
  const parts: string[] = [];
  let current = '';
  for (const char of value) {
    if (Buffer.byteLength(current + char) > max) {
      parts.push(current);
      current = '';
    }
    current += char;
  }
  parts.push(current);
  return parts;
}

/** RFC 1035 §5.1: inside a quoted string, `"` and `\` are escaped with a backslash. */
export function quoteTxt(part: string): string {
  return `"${part.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The presentation form: `"first 255 octets" "rest"`. */
export function txtContent(value: string): string {
  return splitTxt(value).map(quoteTxt).join(' ');
}
