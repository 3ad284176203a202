/**
 * The bytes that leave for one group of recipients. Mail from our users is DKIM-signed. Mail
 * received on `mx` is forwarded as it arrived (with the ARC seal added at intake) and never signed
 * with our key -- unless its From is rewritten (rewrite-from.ts, `forwarding.rewriteFrom`): then
 * the From is ours, so we sign the rewritten message, and add an ARC set over it that carries the
 * authentication results recorded at intake (RFC 8617 5.1), since the rewrite broke the
 * ARC-Message-Signature of the intake's set.
 */
import type { ARCSealOptions } from 'mailauth';
import type { RelayConfig } from '../config/schema';
import type { SpoolEnvelope } from '../spool/envelope';
import { signersFor, signersOfMessage, signMessage, type DkimSigner } from './dkim';
import { headerBlock } from './message';
import { rewriteFrom } from './rewrite-from';
import type { OutgoingSource } from './transmit';
import type { Outgoing } from './transport';

/** Whether forwarded mail gets the From rewrite, given the config (RFC 7960 4.1.3). */
export function rewritesFrom(config: Pick<RelayConfig, 'forwarding' | 'delivery'>): boolean {
  const mode = config.forwarding.rewriteFrom;
  return mode === 'always' || (mode === 'auto' && config.delivery.smarthost !== null);
}

/** The From address of a rewritten forward: the address at our domain the message came to. */
export function forwarderFor(envelope: SpoolEnvelope, original: string, rewrite: boolean): string | undefined {
  return rewrite && envelope.origin === 'inbound' ? original : undefined;
}

/** Where an attempt reads its message from: the whole of it, or the header section only. */
export interface MessageReader {
  body(): Promise<Buffer>;
  /** The bytes through the header section at least (the whole message when it is in memory). */
  headerSection(): Promise<Buffer>;
}

/**
 * What leaves for one group, as delivery's worker takes it: mail from our users goes as spooled
 * and is signed on its way (transmit.ts) by the signers its From chooses -- chosen here, on the
 * main thread, by the one From reader, so the worker needs no MIME decoder; a forward goes as it
 * arrived; only a From-rewritten forward is made here (rewritten, signed, re-sealed) and handed
 * over as bytes.
 */
export async function outgoingFor(envelope: SpoolEnvelope, source: OutgoingSource, read: MessageReader, forwarder: string | undefined, signers: readonly DkimSigner[]): Promise<Outgoing> {
  if (envelope.origin !== 'inbound') {
    const chosen = signersOfMessage(await read.headerSection(), signers, { utf8: envelope.smtpUtf8 });
    return chosen.length > 0 ? { message: source, sign: { signKey: envelope.id, signers: chosen } } : { message: source };
  }
  if (forwarder === undefined) return { message: source };
  return { message: { kind: 'bytes', bytes: await outgoingMessage(envelope, await read.body(), forwarder, signers) } };
}

export async function outgoingMessage(envelope: SpoolEnvelope, body: Buffer, forwarder: string | undefined, signers: readonly DkimSigner[]): Promise<Buffer> {
  if (envelope.origin !== 'inbound') return signMessage(body, signers, { utf8: envelope.smtpUtf8 });
  if (forwarder === undefined) return body;
  const domain = forwarder.slice(forwarder.lastIndexOf('@') + 1).toLowerCase();
  const signed = await signMessage(rewriteFrom(body, forwarder, domain), signers, { utf8: envelope.smtpUtf8 });
  return reseal(envelope, signed, domain, signers);
}

async function reseal(envelope: SpoolEnvelope, message: Buffer, domain: string, signers: readonly DkimSigner[]): Promise<Buffer> {
  const inbound = envelope.inbound;
  // A chain that had failed is not sealed again (RFC 8617 5.1.2), nor mail spooled without a
  // record of its results (by an older version: its intake seal is all there is).
  if (!inbound || inbound.arc === 'fail') return message;
  // mailauth's ARC sealer signs with rsa-sha256 only.
  const sealer = signersFor(signers, domain).find((signer) => signer.algorithm === 'rsa-sha256') ?? signers.find((signer) => signer.algorithm === 'rsa-sha256');
  if (!sealer) return message;
  const hasChain = /^ARC-Seal:/im.test(headerBlock(message));
  // mailauth takes the results and chain validation status with the key (lib/arc createSeal).
  const seal: ARCSealOptions & { authResults: string; cv: 'none' | 'pass' } = {
    signingDomain: sealer.domain,
    selector: sealer.selector,
    privateKey: sealer.privateKey,
    // One clock reading for the whole set (see signMessage in dkim.ts).
    signTime: new Date(),
    authResults: inbound.authResults,
    // Our own intake seal (or the chain before it) validated when the message arrived.
    cv: hasChain ? 'pass' : 'none',
  };
  // Loaded on first use, like inbound checks (inbound.ts).
  const { sealMessage } = await import('mailauth');
  const headers = await sealMessage(message, seal);
  return Buffer.concat([headers, message]);
}
