/**
 * Domain names in the form DNS and SMTP compare them: lower-case A-labels (RFC 5890 §2.3.2.1), no
 * trailing dot. Internationalised names (IDN) are converted with WHATWG `domainToASCII` (UTS #46
 * processing, the same mapping browsers use), so `bücher.example` becomes `xn--bcher-kva.example`.
 * Pure: used by the Pulumi program, `mxkit records` and `mxkit local` alike.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

/** RFC 1035 §2.3.4: labels of at most 63 octets, names of at most 253 characters in text form. */
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export function toALabel(name: string, what = 'domain'): string {
  const trimmed = name.trim().replace(/\.$/, '');
  const ascii = trimmed === '' ? '' : domainToASCII(trimmed);
  if (ascii === '' || ascii.length > 253 || isIP(ascii) !== 0 || !ascii.split('.').every((label) => LABEL.test(label))) {
    throw new Error(`${what} "${name}" is not a valid DNS name`);
  }
  return ascii;
}

/** `local@domain` with the domain part converted to A-labels; the local part is left as written. */
export function toAsciiAddress(address: string, what = 'address'): string {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) throw new Error(`${what} "${address}" is not an address like user@example.com`);
  return `${address.slice(0, at)}@${toALabel(address.slice(at + 1), what)}`;
}

/** The domain part of an address, in A-labels. */
export function domainOf(address: string): string {
  return toAsciiAddress(address).split('@').pop() as string;
}
