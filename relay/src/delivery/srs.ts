/**
 * Sender Rewriting Scheme (Shevek, "Sender Rewriting Scheme", as implemented by libsrs2 and
 * Postfix's postsrsd). A forwarded message leaves with an envelope sender in our domain, so SPF at
 * the next hop checks our address (RFC 7208 1.2.3 on forwarding), and a bounce to that address can
 * be turned back into the original sender:
 *
 *   SRS0=HHHHHHHH=TT=orig-domain=orig-local@our-domain
 *   SRS1=HHHHHHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@our-domain   (forwarding an SRS0)
 *
 * Everything we generate survives case folding, because MTAs on the way back may lower-case (or
 * upper-case) local parts:
 * - HHHHHHHH is the first HASH_LENGTH characters (40 bits) of the lower-case RFC 4648 base32 of
 *   HMAC-SHA256(secret, fields). The fields are our domain, the form (SRS0/SRS1) and the address
 *   parts, each lower-cased and length-prefixed, so no two different field lists hash the same
 *   input (no separator ambiguity, no reuse of an SRS0 hash as an SRS1 hash or on another domain
 *   of ours). Hashes are compared case-insensitively, which costs nothing: base32 has one case.
 * - TT is the day number modulo 1024 in base32 (read case-insensitively). A reversed address
 *   older than MAX_AGE_DAYS is refused, for SRS0 and for SRS1 (whose age is the TT inside the
 *   SRS0 part it carries), so SRS addresses cannot be used to relay through us.
 *
 * The intake accepts these addresses on `mx` only from the null sender and cuts sessions with too
 * many refused recipients (session-handlers.ts): with 40 bits of hash that makes guessing a valid
 * address by RCPT impractical.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const DAY_MS = 86_400_000;
const MAX_AGE_DAYS = 21;
/** Characters of base32 HMAC kept in an address: 8 x 5 = 40 bits. */
export const HASH_LENGTH = 8;

export class Srs {
  /**
   * `secret` makes new addresses; `alsoAccepted` only reverses them: the key a host kept in its own
   * spool before the deployment shared one (forwarding.srsSecretFile), so bounces to addresses it
   * made before the change still find their way back for the 21 days they are valid.
   */
  constructor(
    private readonly secret: Buffer,
    private readonly alsoAccepted: readonly Buffer[] = [],
  ) {}

  /** The SRS address that stands for `sender` on mail we forward from `ourDomain`. */
  forward(sender: string, ourDomain: string, now = Date.now()): string {
    const at = sender.lastIndexOf('@');
    const local = sender.slice(0, at);
    const domain = sender.slice(at + 1);
    if (domain.toLowerCase() === ourDomain.toLowerCase()) return sender;
    const srs = /^SRS([01])[=+-](.*)$/i.exec(local);
    if (srs && srs[1] === '0') {
      // Already rewritten by another forwarder: SRS1 keeps their opaque part and names them.
      const opaque = srs[2];
      return `SRS1=${this.hash('SRS1', ourDomain, domain, opaque)}=${domain}==${opaque}@${ourDomain}`;
    }
    if (srs && srs[1] === '1') {
      // SRS1=HHH=first==opaque: keep pointing at the first forwarder.
      const [, first, opaque] = /^[^=]*=([^=]*)==(.*)$/.exec(srs[2]) ?? [];
      if (first !== undefined && opaque !== undefined) return `SRS1=${this.hash('SRS1', ourDomain, first, opaque)}=${first}==${opaque}@${ourDomain}`;
    }
    const stamp = timestamp(now);
    return `SRS0=${this.hash('SRS0', ourDomain, stamp, domain, local)}=${stamp}=${domain}=${local}@${ourDomain}`;
  }

  /** The address a bounce to an SRS address of ours goes back to, or undefined if it is not valid. */
  reverse(address: string, now = Date.now()): string | undefined {
    const at = address.lastIndexOf('@');
    if (at <= 0) return undefined;
    const local = address.slice(0, at);
    const ourDomain = address.slice(at + 1);
    const srs0 = /^SRS0[=+-]([^=]+)=([^=]{2})=([^=]+)=(.+)$/i.exec(local);
    if (srs0) {
      const [, hash, stamp, domain, original] = srs0;
      if (!this.verify(hash, 'SRS0', ourDomain, stamp, domain, original) || !fresh(stamp, now)) return undefined;
      return `${original}@${domain}`;
    }
    const srs1 = /^SRS1[=+-]([^=]+)=([^=]+)==(.+)$/i.exec(local);
    if (srs1) {
      const [, hash, first, opaque] = srs1;
      if (!this.verify(hash, 'SRS1', ourDomain, first, opaque)) return undefined;
      // The SRS0 part we carry (HHH=TT=domain=local) holds the first forwarder's timestamp.
      const stamp = /^[^=]+=([^=]{2})=[^=]+=.+$/.exec(opaque)?.[1];
      if (stamp === undefined || !fresh(stamp, now)) return undefined;
      return `SRS0=${opaque}@${first}`;
    }
    return undefined;
  }

  private hash(...fields: string[]): string {
    return hashWith(this.secret, fields);
  }

  private verify(hash: string, ...fields: string[]): boolean {
    const given = Buffer.from(hash.toLowerCase());
    return [this.secret, ...this.alsoAccepted].some((secret) => {
      const expected = Buffer.from(hashWith(secret, fields));
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  }
}

function hashWith(secret: Buffer, fields: string[]): string {
  const mac = createHmac('sha256', secret);
  for (const field of fields) {
    const bytes = Buffer.from(field.toLowerCase(), 'utf8');
    mac.update(`${bytes.length}:`);
    mac.update(bytes);
  }
  return base32(mac.digest()).slice(0, HASH_LENGTH);
}

/** RFC 4648 base32, lower-case, unpadded. */
function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function timestamp(now: number): string {
  const day = Math.floor(now / DAY_MS) % 1024;
  return BASE32[day >> 5] + BASE32[day & 31];
}

function fresh(stamp: string, now: number): boolean {
  const high = BASE32.indexOf(stamp[0].toLowerCase());
  const low = BASE32.indexOf(stamp[1].toLowerCase());
  if (high < 0 || low < 0) return false;
  const today = Math.floor(now / DAY_MS) % 1024;
  const age = (today - (high * 32 + low) + 1024) % 1024;
  return age <= MAX_AGE_DAYS;
}
