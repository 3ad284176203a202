/**
 * Splits DATA into its header section and body as it streams past, holding at most
 * MAX_HEADER_SECTION_BYTES: the header section is judged whole (From:, forged
 * Authentication-Results) before anything of the message is written, and a header section that
 * does not end within the limit is refused rather than judged by its first part -- otherwise
 * whatever came after the limit (a second From:) would pass unseen.
 */
import { MAX_HEADER_SECTION_BYTES } from '../mail/header-section';

export type SplitResult =
  /** Still collecting the header section. */
  | { state: 'header' }
  /** The header section is complete (`header` ends with its empty line), `body` is the rest of the chunk. */
  | { state: 'split'; header: Buffer; body: Buffer }
  /** Past the header section: the chunk is body. */
  | { state: 'body'; body: Buffer }
  | { state: 'too_big' };

const BLANK_LINE = Buffer.from('\r\n\r\n');

export class HeaderSplitter {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private state: 'header' | 'body' | 'too_big' = 'header';

  constructor(readonly limit = MAX_HEADER_SECTION_BYTES) {}

  /** Bytes held in memory now (for the in-flight budget). */
  get holding(): number {
    return this.heldBytes;
  }

  push(chunk: Buffer): SplitResult {
    if (this.state === 'body') return { state: 'body', body: chunk };
    if (this.state === 'too_big') return { state: 'too_big' };
    // Search only the new bytes plus the three before them (a blank line may straddle chunks).
    const searchFrom = Math.max(0, this.heldBytes - 3);
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    const all = this.held.length === 1 ? chunk : Buffer.concat(this.held);
    this.held = [all];
    const end = all.subarray(0, 2).equals(BLANK_LINE.subarray(0, 2)) ? 2 : indexFrom(all, searchFrom);
    if (end < 0) {
      if (this.heldBytes > this.limit) return this.giveUp();
      return { state: 'header' };
    }
    if (end > this.limit) return this.giveUp();
    this.state = 'body';
    this.held = [];
    this.heldBytes = 0;
    return { state: 'split', header: all.subarray(0, end), body: all.subarray(end) };
  }

  /** At the end of DATA: a message that is all header (no empty line) is all header. */
  finish(): Buffer | undefined {
    if (this.state !== 'header') return undefined;
    this.state = 'body';
    const header = Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    return header;
  }

  private giveUp(): SplitResult {
    this.state = 'too_big';
    this.held = [];
    this.heldBytes = 0;
    return { state: 'too_big' };
  }
}

function indexFrom(buffer: Buffer, from: number): number {
  const index = buffer.indexOf(BLANK_LINE, from);
  return index < 0 ? -1 : index + BLANK_LINE.length;
}
