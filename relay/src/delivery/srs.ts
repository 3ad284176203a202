/**
 * Sender Rewriting Scheme (Shevek, "Sender Rewriting Scheme", as implemented by libsrs2 and
 * Postfix's postsrsd). A forwarded message leaves with an envelope sender in our domain, so SPF at
 * the next hop checks our address (RFC 7208 1.2.3 on forwarding), and a bounce to that address can
 * be turned back into the original sender:
 *
 *   SRS0=HHHH=TT=orig-domain=orig-local@our-domain
 *   SRS1=HHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@our-domain   (forwarding an SRS0)
 *
 * HHHH is the first 4 base64 characters of HMAC-SHA1(secret, lower-cased fields); TT is the day
 * number modulo 1024 in base32, and a reversed address older than MAX_AGE_DAYS is refused, so SRS
 * addresses cannot be used to relay through us.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const DAY_MS = 86_400_000;
const MAX_AGE_DAYS = 21;

export class Srs {
  constructor(private readonly secret: Buffer) {}

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
      return `SRS1=${this.hash(domain, opaque)}=${domain}==${opaque}@${ourDomain}`;
    }
    if (srs && srs[1] === '1') {
      // SRS1=HHH=first==opaque: keep pointing at the first forwarder.
      const [, first, opaque] = /^[^=]*=([^=]*)==(.*)$/.exec(srs[2]) ?? [];
      if (first !== undefined && opaque !== undefined) return `SRS1=${this.hash(first, opaque)}=${first}==${opaque}@${ourDomain}`;
    }
    const stamp = timestamp(now);
    return `SRS0=${this.hash(stamp, domain, local)}=${stamp}=${domain}=${local}@${ourDomain}`;
  }

  /** The address a bounce to an SRS address of ours goes back to, or undefined if it is not valid. */
  reverse(address: string, now = Date.now()): string | undefined {
    const at = address.lastIndexOf('@');
    const local = address.slice(0, at);
    const srs0 = /^SRS0[=+-]([^=]+)=([^=]{2})=([^=]+)=(.+)$/i.exec(local);
    if (srs0) {
      const [, hash, stamp, domain, original] = srs0;
      if (!this.verify(hash, stamp, domain, original) || !fresh(stamp, now)) return undefined;
      return `${original}@${domain}`;
    }
    const srs1 = /^SRS1[=+-]([^=]+)=([^=]+)==(.+)$/i.exec(local);
    if (srs1) {
      const [, hash, first, opaque] = srs1;
      if (!this.verify(hash, first, opaque)) return undefined;
      return `SRS0=${opaque}@${first}`;
    }
    return undefined;
  }

  private hash(...fields: string[]): string {
    return createHmac('sha1', this.secret).update(fields.join('').toLowerCase()).digest('base64').slice(0, 4);
  }

  private verify(hash: string, ...fields: string[]): boolean {
    const expected = Buffer.from(this.hash(...fields).toLowerCase());
    const given = Buffer.from(hash.toLowerCase());
    // Compared case-insensitively: some MTAs lower-case local parts on the way back.
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}

function timestamp(now: number): string {
  const day = Math.floor(now / DAY_MS) % 1024;
  return BASE32[day >> 5] + BASE32[day & 31];
}

function fresh(stamp: string, now: number): boolean {
  const upper = stamp.toUpperCase();
  const value = BASE32.indexOf(upper[0]) * 32 + BASE32.indexOf(upper[1]);
  if (value < 0 || BASE32.indexOf(upper[0]) < 0 || BASE32.indexOf(upper[1]) < 0) return false;
  const today = Math.floor(now / DAY_MS) % 1024;
  const age = (today - value + 1024) % 1024;
  return age <= MAX_AGE_DAYS;
}
