/**
 * The one address model. Every address the relay decides on -- envelope sender and recipients on
 * every listener, From: mailboxes, the patterns in routes and allowedFrom -- goes through
 * normalizeAddress once, and every decision compares the result with address-match.ts:
 *
 * - domain: lower case, IDNA A-labels (RFC 5890/5891). A U-label is converted; an A-label must be
 *   a real one (it decodes to a U-label that encodes back to it, so `xn--example-` is no alias of
 *   `example`). Anything IDNA would have to *map* first -- fullwidth or other compatibility forms
 *   (U+FF45, U+2168), ignorable characters such as the soft hyphen (U+00AD) or joiners -- is
 *   refused rather than mapped, so no two spellings that look different reach the same route
 *   (UTS #46 section 4 mapping is for user input, not for the wire; RFC 5891 5.4).
 * - local part: a dot-atom (RFC 5321 4.1.2). A quoted local part whose content is itself a
 *   dot-atom is the same mailbox and is unquoted; any other quoted form is refused. Non-ASCII only
 *   under SMTPUTF8 (RFC 6531 3.3), in NFC (RFC 6532 3.1); compatibility forms and invisible
 *   characters refused. The local part keeps its case (RFC 5321 2.4), matching ignores case.
 * - refused outright: IP literals, `%` and `!` routing (RFC 1123 5.2.16 / UUCP), source routes,
 *   trailing dots, single-label domains.
 *
 * Pure functions, no I/O; shared by intake, delivery and the config schema.
 */
import { domainToASCII, domainToUnicode } from 'node:url';

export interface Mailbox {
  /** Unquoted, NFC; case as given. */
  local: string;
  /** Lower-case A-label form. */
  domain: string;
}

/** Why an address was refused: `form` is a syntax problem, the others are about characters. */
export type AddressProblem = 'syntax' | 'compatibility_form' | 'invisible_character' | 'needs_smtputf8';

export type NormalizedAddress = { ok: true; mailbox: Mailbox; address: string } | { ok: false; problem: AddressProblem };

export interface NormalizeOptions {
  /** Non-ASCII local parts are allowed (the transaction uses SMTPUTF8, RFC 6531). */
  utf8: boolean;
}

/** RFC 5321 4.5.3.1.3: a path is at most 256 octets including the angle brackets. */
const MAX_ADDRESS_OCTETS = 254;
const MAX_LOCAL_OCTETS = 64;
const MAX_DOMAIN_OCTETS = 253;
/** RFC 5322 3.2.3 atext without `%` and `!` (routing tricks), plus any non-ASCII (RFC 6531). */
const LOCAL_ATOM = /^[A-Za-z0-9#$&'*+/=?^_`{|}~\-\u0080-\u{10FFFF}]+$/u;
// eslint-disable-next-line no-control-regex -- ASCII is defined by its code points
const ASCII = /^[\x00-\x7f]*$/;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// Control, format (soft hyphen, joiners, bidi marks), separators and default-ignorable code points.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Z}\p{Default_Ignorable_Code_Point}]/u;

const refuse = (problem: AddressProblem): NormalizedAddress => ({ ok: false, problem });

export function normalizeAddress(raw: string, options: NormalizeOptions): NormalizedAddress {
  const at = raw.lastIndexOf('@');
  if (at <= 0 || at === raw.length - 1) return refuse('syntax');
  const local = normalizeLocalPart(raw.slice(0, at), options);
  if (typeof local !== 'string') return refuse(local.problem);
  const domain = normalizeDomain(raw.slice(at + 1));
  if (typeof domain !== 'string') return refuse(domain.problem);
  const address = `${local}@${domain}`;
  if (Buffer.byteLength(address, 'utf8') > MAX_ADDRESS_OCTETS) return refuse('syntax');
  return { ok: true, mailbox: { local, domain }, address };
}

function normalizeLocalPart(raw: string, options: NormalizeOptions): string | { problem: AddressProblem } {
  let local = raw;
  if (local.startsWith('"') && local.endsWith('"') && local.length >= 2) {
    // RFC 5321 4.1.2: "a quoted-string that is a valid dot-string" names the same mailbox as the
    // dot-string; quoted pairs and anything needing quotes are refused.
    local = local.slice(1, -1);
  }
  const characterProblem = unicodeProblem(local);
  if (characterProblem) return { problem: characterProblem };
  if (!ASCII.test(local) && !options.utf8) return { problem: 'needs_smtputf8' };
  local = local.normalize('NFC');
  if (!isDotAtom(local) || Buffer.byteLength(local, 'utf8') > MAX_LOCAL_OCTETS) return { problem: 'syntax' };
  return local;
}

function isDotAtom(text: string): boolean {
  return text.split('.').every((atom) => atom.length > 0 && LOCAL_ATOM.test(atom));
}

/** Invisible characters first (they are what makes a compatibility form look harmless). */
function unicodeProblem(text: string): AddressProblem | undefined {
  // eslint-disable-next-line no-control-regex -- controls and space are what is refused here
  if (ASCII.test(text)) return /[\x00-\x20\x7f]/.test(text) ? 'syntax' : undefined;
  if (INVISIBLE.test(text)) return 'invisible_character';
  if (text.normalize('NFKC') !== text.normalize('NFC')) return 'compatibility_form';
  return undefined;
}

/**
 * A domain in lower-case A-label form, or the problem. Used for envelope and header addresses and
 * for `domains`, `dkim[].domain`, routes and allowedFrom in the config.
 */
export function normalizeDomain(raw: string): string | { problem: AddressProblem } {
  if (raw.length === 0 || raw.startsWith('[') || raw.endsWith('.')) return { problem: 'syntax' };
  const characterProblem = unicodeProblem(raw);
  if (characterProblem) return { problem: characterProblem };
  const labels = raw.normalize('NFC').toLowerCase().split('.');
  if (labels.length < 2) return { problem: 'syntax' };
  const ascii: string[] = [];
  for (const label of labels) {
    const converted = aLabel(label);
    if (typeof converted !== 'string') return converted;
    ascii.push(converted);
  }
  const domain = ascii.join('.');
  if (domain.length > MAX_DOMAIN_OCTETS || /^\d+$/.test(ascii[ascii.length - 1])) return { problem: 'syntax' };
  return domain;
}

function aLabel(label: string): string | { problem: AddressProblem } {
  if (ASCII.test(label)) {
    if (!LDH_LABEL.test(label)) return { problem: 'syntax' };
    // RFC 5891 5.4 / RFC 5890 2.3.2.1: an A-label must decode to a valid U-label that encodes back.
    if (label.startsWith('xn--')) {
      const unicode = domainToUnicode(label);
      if (!unicode || ASCII.test(unicode) || domainToASCII(unicode) !== label) return { problem: 'syntax' };
    } else if (label.slice(2, 4) === '--') {
      return { problem: 'syntax' }; // RFC 5891 4.2.3.1: reserved for other ACE prefixes
    }
    return label;
  }
  const encoded = domainToASCII(label);
  if (!encoded || encoded.includes('.')) return { problem: 'syntax' };
  // The label must already be what IDNA would produce: no mapping (fullwidth dots and letters,
  // compatibility characters, ignorables) may have happened on the way.
  if (domainToUnicode(encoded) !== label) return { problem: 'compatibility_form' };
  return encoded;
}

export function formatMailbox(mailbox: Mailbox): string {
  return `${mailbox.local}@${mailbox.domain}`;
}

/** The domain part of an already normalised address. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}
