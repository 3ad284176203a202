/**
 * DKIM signing of outbound mail (RFC 6376): rsa-sha256 (or ed25519-sha256 for an Ed25519 key),
 * relaxed/relaxed, From, To, Subject, Date, Message-ID, MIME headers and the rest of RFC 6376's
 * recommended list, with From, Reply-To, Cc, In-Reply-To, References and the like over-signed
 * (dkim-signature.ts). A message whose From domain -- or a parent of it, which DMARC's relaxed
 * alignment accepts -- has a `dkim` entry is signed or not sent at all: a signing failure throws,
 * and the caller defers.
 *
 * A domain may list several keys (key rotation, docs/deploy.md): the first entry of the domain
 * signs; the others are only published, so mail still in flight that was signed with them keeps
 * verifying. An Ed25519 key signs beside the first RSA one (the first entry of each key type
 * signs): RFC 8463 §4 expects Ed25519 to be paired with RSA while verifiers catch up.
 */
import type { KeyObject } from 'node:crypto';
import type { RelayConfig } from '../config/schema';
import { DkimSigningError, signatureHeaders, type DkimSigner } from './dkim-sign';
import { readFrom } from '../mail/from-field';
import { headerSectionOf } from '../mail/header-section';
import { installPatches, rememberPrivateKey } from '../patches';

// Which signers sign a message is decided here, on the main thread; the signing itself is
// dkim-sign.ts, which a delivery worker runs too (transmit.ts) without loading the From reader.
export { DkimSigningError, type DkimSigner } from './dkim-sign';

export function dkimSigners(config: Pick<RelayConfig, 'dkim'>, keys: ReadonlyMap<string, KeyObject>): DkimSigner[] {
  // mailauth's key parsing answered from the keys parsed at start (patches: crypto.createPrivateKey).
  installPatches();
  return config.dkim.map((entry) => {
    const key = keys.get(`${entry.domain}/${entry.selector}`);
    if (!key) throw new DkimSigningError(`no key loaded for dkim ${entry.domain}/${entry.selector}`);
    return {
      domain: entry.domain,
      selector: entry.selector,
      privateKey: rememberPrivateKey(key),
      key,
      algorithm: key.asymmetricKeyType === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256',
    };
  });
}

/**
 * The signers for a From domain: the exact domain's entries, else the closest parent domain's;
 * of those, the first of each algorithm (the others are published keys, not signing keys).
 */
export function signersFor(signers: readonly DkimSigner[], domain: string | undefined): DkimSigner[] {
  if (!domain) return [];
  const labels = domain.split('.');
  for (let index = 0; index < labels.length - 1; index++) {
    const candidate = labels.slice(index).join('.');
    const matching = signers.filter((signer) => signer.domain === candidate);
    if (matching.length > 0) return matching.filter((signer, position) => matching.findIndex((other) => other.algorithm === signer.algorithm) === position);
  }
  return [];
}

/**
 * The signing domain comes from the From: as the one From reader reads it -- the reader the
 * intake authorised the sender with -- so the domain we sign for is the domain that was allowed.
 * A From: it cannot read one way only is never signed (the intake refuses such messages; this
 * holds for anything spooled another way).
 */
export function signingDomain(message: Buffer | string, options: { utf8: boolean }): string | undefined {
  const from = readFrom(typeof message === 'string' ? message : headerSectionOf(message), options);
  if (from.kind === 'ambiguous') throw new DkimSigningError(`From: cannot be read one way only (${from.problem}); not signing`);
  return from.kind === 'mailboxes' ? from.mailboxes[0].domain : undefined;
}

/**
 * The signers that sign a message with this header section (or whole message): none when its
 * From has no key. Throws DkimSigningError for a From that cannot be read one way only.
 */
export function signersOfMessage(message: Buffer | string, signers: readonly DkimSigner[], options: { utf8: boolean }): DkimSigner[] {
  return signersFor(signers, signingDomain(message, options));
}

/** The DKIM-Signature header field(s) for the message (empty when no key applies to its From). */
export function dkimSignatureHeaders(message: Buffer, signers: readonly DkimSigner[], options: { utf8: boolean }, now = new Date()): Buffer {
  return signatureHeaders(message, signersOfMessage(message, signers, options), now);
}

/** Returns the message with DKIM-Signature header(s) prepended, or unchanged when no key applies. */
export async function signMessage(message: Buffer, signers: readonly DkimSigner[], options: { utf8: boolean }, now = new Date()): Promise<Buffer> {
  const headers = dkimSignatureHeaders(message, signers, options, now);
  return headers.length === 0 ? message : Buffer.concat([headers, message]);
}
