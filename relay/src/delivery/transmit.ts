/**
 * One outbound SMTP transaction of one message to one target, DKIM signature included: the piece
 * of delivery that costs CPU per message (RSA signing, the SMTP client, reading the message) and
 * needs nothing of the relay's state. It runs in a worker thread (transmit-pool.ts), so intake
 * keeps the main thread and delivery uses the other core; or in place where there are no workers.
 *
 * What crosses the seam is plain data: the target, the envelope, and the message -- bytes, or the
 * spool file to read it from (a large message is then never copied between threads) -- and back
 * the session's result. The signature is made here, from the spooled bytes, and cached for the few
 * seconds an attempt takes, so the groups of one message (one per destination domain) share one.
 */
import { open } from 'node:fs/promises';
import { signatureHeaders, type DkimSigner } from './dkim-sign';
import { sendOverSmtp, type SessionResult, type SmtpTarget } from './smtp-client';

export type OutgoingSource =
  /** Ready to send as they are (a forward, or bytes the caller prepared). */
  | { kind: 'bytes'; bytes: Buffer }
  /** A spooled message read from its file (from `offset`), sent as it is. */
  | { kind: 'file'; path: string; offset: number };

export interface TransmitJob {
  target: SmtpTarget;
  mailFrom: string;
  recipients: string[];
  message: OutgoingSource;
  /**
   * DKIM-sign first (mail from our users) with these signers, chosen on the main thread from the
   * message's From (dkim.ts signersOfMessage); `signKey` names the message for the signature cache.
   * A signer's key crosses the thread seam as a KeyObject clone.
   */
  sign?: { signKey: string; signers: readonly DkimSigner[] };
}

export type TransmitResult = SessionResult | { kind: 'unsigned'; detail: string };

/** Signatures made in the last few seconds, per message: one signature per attempt, not per group. */
export class SignatureCache {
  private readonly entries = new Map<string, { headers: Buffer; at: number }>();

  constructor(
    private readonly ttlMs = 10_000,
    private readonly max = 256,
  ) {}

  get(key: string, now = Date.now()): Buffer | undefined {
    const entry = this.entries.get(key);
    return entry && now - entry.at < this.ttlMs ? entry.headers : undefined;
  }

  set(key: string, headers: Buffer, now = Date.now()): void {
    this.entries.delete(key);
    this.entries.set(key, { headers, at: now });
    // Oldest first out (a Map iterates in insertion order).
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.max) break;
      this.entries.delete(oldest);
    }
  }
}

export async function transmit(job: TransmitJob, cache: SignatureCache): Promise<TransmitResult> {
  // Bytes that crossed from another thread arrive as a plain Uint8Array: view them as a Buffer.
  const body = job.message.kind === 'bytes' ? asBuffer(job.message.bytes) : await readFrom(job.message.path, job.message.offset);
  let headers: Buffer | undefined;
  if (job.sign && job.sign.signers.length > 0) {
    headers = cache.get(job.sign.signKey);
    if (!headers) {
      try {
        headers = signatureHeaders(body, job.sign.signers);
      } catch (error) {
        // Signed or not sent at all: the caller defers (outcome 'dkim').
        return { kind: 'unsigned', detail: (error as Error).message };
      }
      cache.set(job.sign.signKey, headers);
    }
  }
  return sendOverSmtp(job.target, job.mailFrom, job.recipients, headers && headers.length > 0 ? [headers, body] : body);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The rest of a file from `offset` (a spooled message's bytes after its envelope line). */
async function readFrom(path: string, offset: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const bytes = Buffer.allocUnsafe(Math.max(0, size - offset));
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return bytes.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
