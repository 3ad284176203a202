/**
 * DATA: streams the message into a spool draft while checking size and line endings, and only
 * commits it when everything is right. The stream is always read to its end, whatever fails, so
 * the client gets one reply for the whole message and the session stays in step.
 */
import type { SMTPServerDataStream } from 'smtp-server';
import type { Readable } from 'node:stream';
import type { SpoolDraft } from '../spool/spool';
import { LineEndingScanner } from './line-endings';
import { Replies, SmtpReply } from './reply';

export interface ReceiveOptions {
  maxMessageBytes: number;
  /** Opens the draft; a failure is answered 451 once the stream has been consumed. */
  openDraft: () => Promise<SpoolDraft>;
  /** Written before the message: the envelope line, `inspected` headers, our Received header. */
  prefix: (draft: SpoolDraft, inspected?: Buffer) => Promise<void>;
  /**
   * Looks at the whole message before it is stored (inbound authentication and spam scan on `mx`):
   * returns header bytes to add (and the message, if it changed it), or throws an SmtpReply to
   * refuse it. The message is held in memory for this, which limits.maxMessageBytes bounds.
   */
  inspect?: (message: Buffer) => Promise<Inspection>;
  /**
   * Judges the message once it is in the draft, before the commit (spam scan of submissions): it
   * reads the draft's file, not memory. Throws an SmtpReply to refuse; the draft is then dropped.
   */
  vet?: (body: { size: number; open(): Readable }) => Promise<void>;
  /** Rewrites the received message before `inspect` sees it and before it is stored. */
  rewrite?: (message: Buffer) => Buffer;
  /** Judges the header section (authenticated senders' From:): an SmtpReply refuses the message. */
  checkHeaders?: (headerSection: string) => SmtpReply | undefined;
}

/** Headers beyond this are not inspected (a header section this large is refused anyway by most MTAs). */
const MAX_HEADER_BYTES = 64 * 1024;

/** Keeps the message's header section (up to the first empty line) as it streams past. */
class HeaderCollector {
  private text = '';
  private done = false;

  update(chunk: Buffer): void {
    if (this.done) return;
    this.text += chunk.toString('latin1');
    const end = this.text.indexOf('\r\n\r\n');
    if (end >= 0) {
      this.text = this.text.slice(0, end + 2);
      this.done = true;
    } else if (this.text.length > MAX_HEADER_BYTES) {
      this.text = this.text.slice(0, MAX_HEADER_BYTES);
      this.done = true;
    }
  }

  get headerSection(): string {
    return this.text;
  }
}

export interface Inspection {
  headers: Buffer;
  /** The message to store instead of the one received (e.g. with a tagged Subject). */
  message?: Buffer;
}

export interface ReceivedMessage {
  bytes: number;
}

export async function receiveMessage(stream: SMTPServerDataStream, options: ReceiveOptions): Promise<ReceivedMessage> {
  if (options.inspect) return receiveInspected(stream, options, options.inspect);
  const scanner = new LineEndingScanner();
  let draft: SpoolDraft | undefined;
  let storageError: unknown;
  let bytes = 0;
  try {
    draft = await options.openDraft();
    await options.prefix(draft);
  } catch (error) {
    storageError = error;
  }
  const headers = new HeaderCollector();
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      scanner.update(chunk);
      headers.update(chunk);
      const keepWriting = draft && !storageError && !stream.sizeExceeded && bytes <= options.maxMessageBytes;
      if (keepWriting) {
        try {
          await draft?.write(chunk);
        } catch (error) {
          storageError = error;
        }
      }
    }
  } catch (error) {
    // The client went away mid-message: nothing was acknowledged, so nothing may stay behind.
    await draft?.abort().catch(() => undefined);
    throw error;
  }
  const refusal =
    refusalFor(stream.sizeExceeded || bytes > options.maxMessageBytes, scanner, storageError, options.maxMessageBytes) ??
    options.checkHeaders?.(headers.headerSection);
  if (refusal) {
    await draft?.abort().catch(() => undefined);
    throw refusal;
  }
  try {
    await options.vet?.((draft as SpoolDraft).bodySource());
  } catch (error) {
    await draft?.abort().catch(() => undefined);
    throw error;
  }
  try {
    await (draft as SpoolDraft).commit();
  } catch (error) {
    await draft?.abort().catch(() => undefined);
    throw Object.assign(Replies.spoolFailed(), { cause: error });
  }
  return { bytes };
}

/** Reads the whole message, lets `inspect` judge it, and only then opens, writes and commits the draft. */
async function receiveInspected(stream: SMTPServerDataStream, options: ReceiveOptions, inspect: (message: Buffer) => Promise<Inspection>): Promise<ReceivedMessage> {
  const scanner = new LineEndingScanner();
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    scanner.update(chunk);
    if (!stream.sizeExceeded && bytes <= options.maxMessageBytes) chunks.push(chunk);
  }
  const refusal = refusalFor(stream.sizeExceeded || bytes > options.maxMessageBytes, scanner, undefined, options.maxMessageBytes);
  if (refusal) throw refusal;
  const received = Buffer.concat(chunks);
  const rewritten = options.rewrite ? options.rewrite(received) : received;
  const inspection = await inspect(rewritten);
  const message = inspection.message ?? rewritten;
  let draft: SpoolDraft | undefined;
  try {
    draft = await options.openDraft();
    await options.prefix(draft, inspection.headers);
    await draft.write(message);
    await draft.commit();
  } catch (error) {
    await draft?.abort().catch(() => undefined);
    throw Object.assign(Replies.spoolFailed(), { cause: error });
  }
  return { bytes };
}

function refusalFor(oversized: boolean, scanner: LineEndingScanner, storageError: unknown, limit: number): SmtpReply | undefined {
  if (oversized) return Replies.messageTooBig(limit);
  if (scanner.foundBareLineEnding) return Replies.bareLineEnding();
  if (storageError !== undefined) return Object.assign(Replies.spoolFailed(), { cause: storageError });
  return undefined;
}
