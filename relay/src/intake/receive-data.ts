/**
 * DATA: streams the message into a spool draft while checking size and line endings, and only
 * commits it when everything is right. The stream is always read to its end, whatever fails, so
 * the client gets one reply for the whole message and the session stays in step.
 */
import type { SMTPServerDataStream } from 'smtp-server';
import type { SpoolDraft } from '../spool/spool';
import { LineEndingScanner } from './line-endings';
import { Replies, SmtpReply } from './reply';

export interface ReceiveOptions {
  maxMessageBytes: number;
  /** Opens the draft; a failure is answered 451 once the stream has been consumed. */
  openDraft: () => Promise<SpoolDraft>;
  /** Written before the message: the envelope line and our Received header. */
  prefix: (draft: SpoolDraft) => Promise<void>;
}

export interface ReceivedMessage {
  bytes: number;
}

export async function receiveMessage(stream: SMTPServerDataStream, options: ReceiveOptions): Promise<ReceivedMessage> {
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
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    scanner.update(chunk);
    const keepWriting = draft && !storageError && !stream.sizeExceeded && bytes <= options.maxMessageBytes;
    if (keepWriting) {
      try {
        await draft?.write(chunk);
      } catch (error) {
        storageError = error;
      }
    }
  }
  const refusal = refusalFor(stream.sizeExceeded || bytes > options.maxMessageBytes, scanner, storageError, options.maxMessageBytes);
  if (refusal) {
    await draft?.abort().catch(() => undefined);
    throw refusal;
  }
  try {
    await (draft as SpoolDraft).commit();
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
