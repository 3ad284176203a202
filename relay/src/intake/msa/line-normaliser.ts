/**
 * Bare LF and bare CR inside a submitted message become CRLF, as Postfix does with
 * `smtpd_forbid_bare_newline = normalize` (postfix.org/postconf.5.html#smtpd_forbid_bare_newline):
 * clients such as Python's `sendmail(..., msg.as_bytes())` send LF-only lines, and refusing the
 * whole message helps nobody. DATA still ends only at <CRLF>.<CRLF> (smtp-server decides that
 * before these bytes reach us, and it removes dot-stuffing after any LF), and what we store has no
 * bare CR or LF left, so no `<LF>.<LF>` look-alike can end a message at a server further down the
 * line (SMTP smuggling): delivery dot-stuffs every line that starts with a dot.
 *
 * An LF-only client ends its last line with LF and then sends the CRLF that begins <CRLF>.<CRLF>
 * (smtplib adds it when the data does not end in CRLF). That CRLF is the terminator's, not an empty
 * last line, so a CRLF that directly follows a bare LF at the very end of DATA is dropped: the
 * message arrives byte for byte as written, with CRLF for LF.
 */
const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');

export class LineEndingNormaliser {
  /** A CR was the last byte seen; whether it is bare depends on the next one. */
  private pendingCr = false;
  /** The last line ending written stood for a bare LF. */
  private afterBareLf = false;
  /** A CRLF right after a bare LF, held back: it is dropped if DATA ends here. */
  private heldCrlf = false;
  /** Bare line endings replaced so far. */
  replaced = 0;

  normalise(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let index = 0;
    while (index < chunk.length) {
      const byte = chunk[index];
      if (this.pendingCr) {
        this.pendingCr = false;
        if (byte === LF) {
          index++;
          if (this.afterBareLf) {
            this.heldCrlf = true;
            this.afterBareLf = false;
          } else {
            this.release(out);
            out.push(CRLF);
          }
          continue;
        }
        this.release(out);
        out.push(CRLF);
        this.replaced++;
        this.afterBareLf = false;
      }
      if (byte === CR) {
        this.pendingCr = true;
        index++;
        continue;
      }
      this.release(out);
      if (byte === LF) {
        out.push(CRLF);
        this.replaced++;
        this.afterBareLf = true;
        index++;
        continue;
      }
      this.afterBareLf = false;
      // Copy the run up to the next CR or LF in one piece.
      let end = index + 1;
      while (end < chunk.length && chunk[end] !== CR && chunk[end] !== LF) end++;
      out.push(chunk.subarray(index, end));
      index = end;
    }
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  private release(out: Buffer[]): void {
    if (!this.heldCrlf) return;
    this.heldCrlf = false;
    out.push(CRLF);
  }

  /** At the end of DATA: a held CRLF after a bare LF is the terminator's and is dropped; a last bare CR becomes CRLF. */
  finish(): Buffer {
    this.heldCrlf = false;
    if (!this.pendingCr) return Buffer.alloc(0);
    this.pendingCr = false;
    this.replaced++;
    return CRLF;
  }
}
