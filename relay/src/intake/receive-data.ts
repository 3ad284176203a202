/**
 * DATA: the message streams into a spool draft once, as it arrives, while its size, line endings
 * and header section are checked and the global in-flight budget is kept. Then the message
 * checks read it back from the draft (message-checks.ts), and only a message that passed
 * everything is committed. Memory per session is the header section (bounded) plus stream
 * buffers, whatever the message size. The stream is always read to its end, whatever fails, so
 * the client gets one reply for the whole message and the session stays in step.
 */
import type { SMTPServerDataStream } from 'smtp-server';
import type { SpoolEnvelope } from '../spool/envelope';
import type { DraftHead } from '../spool/draft';
import type { SpoolDraft } from '../spool/spool';
import type { ByteBudget } from './byte-budget';
import { HeaderSplitter } from './header-splitter';
import { LineEndingScanner } from './line-endings';
import type { MessageCheck } from './message-check';
import { runMessageChecks, type CheckInput } from './message-checks';
import { LineEndingNormaliser } from './msa/line-normaliser';
import { Replies, SmtpReply } from './reply';

/**
 * Room kept in front of a checked message's body, besides its envelope line, Received header and
 * header section: for the checks' headers (ARC set, Authentication-Results, spam verdict) and
 * what they add to the envelope line. More than this is handled too, by one copy (draft.ts).
 */
export const CHECK_HEADER_ROOM = 6 * 1024;

export interface ReceiveOptions {
  envelope: SpoolEnvelope;
  maxMessageBytes: number;
  budget: ByteBudget;
  /** Opens the draft (`headRoom` when checks will add headers); a failure is answered 451. */
  openDraft: (headRoom: number) => Promise<SpoolDraft>;
  /** Our Received header, first in the stored message. */
  received: Buffer;
  /** Judges the header section (From: for signing): an SmtpReply refuses the message. */
  checkHeader?: (headerSection: string) => SmtpReply | undefined;
  /** Rewrites the header section before it is stored (forged Authentication-Results, mx). */
  rewriteHeader?: (header: Buffer) => Buffer;
  /** Whole-message checks, run on the stored bytes before the commit. */
  checks: readonly MessageCheck[];
  /** What the checks are told besides the message. */
  checkContext: Pick<CheckInput, 'helo' | 'log' | 'listings'>;
  /** Told the size of every chunk as it arrives (the session's minimum-rate deadline). */
  progress?: (bytes: number) => void;
  /**
   * Submission (RFC 6409 section 8): bare CR/LF become CRLF as the bytes arrive, before anything
   * else sees them (msa/line-normaliser.ts). Without it a bare CR or LF refuses the message (554 5.6.0).
   */
  normaliseLineEndings?: boolean;
  /** Told how many bare line endings were normalised, when there were any (for the log). */
  onNormalised?: (count: number) => void;
}

export interface ReceivedMessage {
  bytes: number;
}

/** Everything that can go wrong while the stream is read; decided once it has ended. */
class Reception {
  bytes = 0;
  taken = 0;
  oversized = false;
  readonly lineEndings = new LineEndingScanner();
  refusal: SmtpReply | undefined;
  storageError: unknown;

  constructor(private readonly budget: ByteBudget) {}

  /** Counts `length` more bytes against the budget; false once the budget or a refusal stops us. */
  take(length: number): boolean {
    if (this.refusal || this.oversized) return false;
    if (!this.budget.take(length)) {
      this.refuse(Replies.inFlightBudgetExceeded());
      return false;
    }
    this.taken += length;
    return true;
  }

  /**
   * A refused message stores nothing more, so its bytes leave the budget at once: the sessions
   * still receiving can go on (otherwise many large messages at once would all fill the budget
   * together and all be refused).
   */
  refuse(reply: SmtpReply): void {
    this.refusal ??= reply;
    this.releaseBudget();
  }

  releaseBudget(): void {
    this.budget.release(this.taken);
    this.taken = 0;
  }
}

export async function receiveMessage(stream: SMTPServerDataStream, options: ReceiveOptions): Promise<ReceivedMessage> {
  // smtp-server reports a client that leaves mid-message as an ECONNECTION error only to a stream
  // with an error listener; the draft is opened while the stream is read, so listen from the start.
  stream.on('error', () => undefined);
  const reception = new Reception(options.budget);
  const store = new DraftWriter(options, reception);
  try {
    await readStream(stream, options, reception, store);
    const refusal = refusalFor(reception, options.maxMessageBytes);
    const draft = store.draft;
    if (refusal || !draft || !store.header) throw refusal ?? Replies.spoolFailed();
    if (options.checks.length === 0) {
      await commit(draft);
    } else {
      const { prefix, header } = await runMessageChecks(options.checks, {
        ...options.checkContext,
        envelope: options.envelope,
        received: options.received,
        header: store.header,
        bodySize: draft.bodyBytes,
        body: () => draft.readBack(),
      });
      // What goes in front of the body: the checks' headers, our Received, the header section.
      await commit(draft, { envelope: options.envelope, prefix: Buffer.concat([prefix, options.received, header]) });
    }
    store.draft = undefined;
    return { bytes: reception.bytes };
  } finally {
    reception.releaseBudget();
    // Nothing was acknowledged: whatever refused or broke the message, nothing may stay behind.
    await store.draft?.abort().catch(() => undefined);
  }
}

async function commit(draft: SpoolDraft, head?: DraftHead): Promise<void> {
  try {
    await draft.commit(head);
  } catch (error) {
    throw Object.assign(Replies.spoolFailed(), { cause: error });
  }
}

/**
 * Opens the draft once the header section is known and writes the message into it. Without
 * checks: envelope line, Received and header section first, then the body as it comes. With
 * checks: only the body, behind room for everything the commit puts in front of it (the header
 * section stays in memory, bounded, because a check may change it).
 */
class DraftWriter {
  draft: SpoolDraft | undefined;
  header: Buffer | undefined;

  constructor(
    private readonly options: ReceiveOptions,
    private readonly reception: Reception,
  ) {}

  async start(header: Buffer): Promise<void> {
    this.header = header;
    const { options } = this;
    const checked = options.checks.length > 0;
    try {
      if (checked) {
        const headRoom = Buffer.byteLength(JSON.stringify(options.envelope)) + 1 + CHECK_HEADER_ROOM + options.received.length + header.length;
        this.draft = await options.openDraft(headRoom);
      } else {
        this.draft = await options.openDraft(0);
        await this.draft.writeEnvelope(options.envelope);
        await this.draft.write(Buffer.concat([options.received, header]));
      }
    } catch (error) {
      this.reception.storageError ??= error;
    }
  }

  async write(bytes: Buffer): Promise<void> {
    const { reception } = this;
    if (!this.draft || reception.storageError !== undefined || reception.refusal || bytes.length === 0) return;
    try {
      await this.draft.write(bytes);
    } catch (error) {
      reception.storageError = error;
    }
  }
}

async function readStream(stream: SMTPServerDataStream, options: ReceiveOptions, reception: Reception, store: DraftWriter): Promise<void> {
  const splitter = new HeaderSplitter();
  const startWith = async (header: Buffer) => {
    const refusal = options.checkHeader?.(header.toString('latin1'));
    if (refusal) return reception.refuse(refusal);
    await store.start(options.rewriteHeader ? options.rewriteHeader(header) : header);
  };
  const normaliser = options.normaliseLineEndings ? new LineEndingNormaliser() : undefined;
  /** One piece of the message, as stored (after normalisation). */
  const accept = async (chunk: Buffer) => {
    reception.lineEndings.update(chunk);
    if (reception.oversized || chunk.length === 0) return;
    if (!reception.take(chunk.length)) return;
    const split = splitter.push(chunk);
    if (split.state === 'too_big') reception.refuse(Replies.headerTooBig(splitter.limit));
    else if (split.state === 'split') {
      await startWith(split.header);
      await store.write(split.body);
    } else if (split.state === 'body') await store.write(split.body);
  };
  for await (const received of stream as AsyncIterable<Buffer>) {
    reception.bytes += received.length;
    options.progress?.(received.length);
    if (!reception.oversized && (stream.sizeExceeded || reception.bytes > options.maxMessageBytes)) {
      reception.oversized = true;
      reception.releaseBudget();
    }
    await accept(normaliser ? normaliser.normalise(received) : received);
  }
  // Only the end-of-data line ends the stream normally; anything else is a client that left.
  if (!stream.readableEnded) throw Object.assign(new Error('the message stream ended before its end-of-data line'), { code: 'ECONNECTION' });
  if (normaliser) {
    await accept(normaliser.finish());
    if (normaliser.replaced > 0) options.onNormalised?.(normaliser.replaced);
  }
  const headerOnly = splitter.finish();
  if (headerOnly && !reception.refusal) await startWith(headerOnly);
}

/** One reply for the whole message, the most fundamental problem first. */
function refusalFor(reception: Reception, limit: number): SmtpReply | undefined {
  if (reception.oversized) return Replies.messageTooBig(limit);
  if (reception.lineEndings.foundBareLineEnding) return Replies.bareLineEnding();
  if (reception.refusal) return reception.refusal;
  if (reception.storageError !== undefined) return Object.assign(Replies.spoolFailed(), { cause: reception.storageError });
  return undefined;
}
