/**
 * Detects bare CR and bare LF in DATA. smtp-server ends DATA only on <CRLF>.<CRLF>, so
 * "\n.\n"-style terminators stay data; refusing any message that holds a bare CR or LF keeps
 * such a sequence from ever reaching a downstream server that might end DATA on it ("SMTP
 * smuggling", RFC 5321 2.3.8: CR and LF must only occur together as CRLF).
 */
const CR = 0x0d;
const LF = 0x0a;

export class LineEndingScanner {
  private previousWasCr = false;
  private bare = false;

  get foundBareLineEnding(): boolean {
    return this.bare || this.previousWasCr;
  }

  update(chunk: Buffer): void {
    if (this.bare || chunk.length === 0) return;
    if (this.previousWasCr && chunk[0] !== LF) {
      this.bare = true;
      return;
    }
    let position = this.previousWasCr ? 1 : 0;
    while (position < chunk.length) {
      const cr = chunk.indexOf(CR, position);
      const lf = chunk.indexOf(LF, position);
      if (lf !== -1 && (cr === -1 || lf < cr)) {
        this.bare = true; // LF not preceded by CR
        return;
      }
      if (cr === -1) break;
      if (cr === chunk.length - 1) {
        this.previousWasCr = true;
        return;
      }
      if (chunk[cr + 1] !== LF) {
        this.bare = true;
        return;
      }
      position = cr + 2;
    }
    this.previousWasCr = false;
  }
}
