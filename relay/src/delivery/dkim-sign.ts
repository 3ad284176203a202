/**
 * The DKIM-Signature header fields of one message for signers already chosen (dkim.ts chooses
 * them from its From, on the main thread). What a delivery worker runs (transmit.ts), and what the
 * in-process signer runs, so both write the same signatures. It needs nothing but node:crypto and
 * the relay's own signer (dkim-signature.ts), so the worker's bundle carries no From reader, no
 * MIME decoder and no charset tables.
 */
import type { KeyObject } from 'node:crypto';
import { dkimSignature } from './dkim-signature';

export interface DkimSigner {
  domain: string;
  selector: string;
  /** PEM, for mailauth (ARC sealing). */
  privateKey: string;
  key: KeyObject;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
}

export class DkimSigningError extends Error {
  override name = 'DkimSigningError';
}

/**
 * The DKIM-Signature header field(s) for the message by each of `signers`, to be sent in front of
 * it -- no copy of the message is made. Every signature of a message carries the one time `now`.
 */
export function signatureHeaders(message: Buffer, signers: readonly DkimSigner[], now = new Date()): Buffer {
  const signatures: string[] = [];
  for (const signer of signers) {
    try {
      signatures.push(dkimSignature(message, { domain: signer.domain, selector: signer.selector, privateKey: signer.key, algorithm: signer.algorithm }, now));
    } catch (error) {
      throw new DkimSigningError(`DKIM signing for ${signer.domain} failed: ${(error as Error).message}`);
    }
  }
  return Buffer.from(signatures.join(''), 'latin1');
}
