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

/** The placeholder for the host number in `mxkit:hostname` (`mx{n}.example.com` → mx1, mx2, …). */
export const HOST_NUMBER = '{n}';

/**
 * The names of hosts 1…count. A pattern with `{n}` numbers every host; a plain name is host 1's
 * (so a single-host stack keeps its name when a second host is added) and later hosts number its
 * first label: `mail` → `mail2`, `mx1` → `mx2`.
 */
export function hostnamesFor(pattern: string, count: number, what = 'hostname'): string[] {
  if (!Number.isInteger(count) || count < 1) throw new Error(`host count ${count} must be a whole number of at least 1`);
  const numbers = Array.from({ length: count }, (_, index) => index + 1);
  if (pattern.includes(HOST_NUMBER)) return numbers.map((n) => toALabel(pattern.split(HOST_NUMBER).join(String(n)), what));
  const first = toALabel(pattern, what);
  const [label, ...rest] = first.split('.');
  const stem = label.endsWith('1') && !/\d1$/.test(label) ? label.slice(0, -1) : label;
  return numbers.map((n) => (n === 1 ? first : toALabel([`${stem}${n}`, ...rest].join('.'), what)));
}
