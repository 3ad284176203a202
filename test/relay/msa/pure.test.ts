import { LineEndingNormaliser } from '../../../relay/src/intake/msa/line-normaliser';
import { completeSubmissionHeader, rfc5322Date } from '../../../relay/src/intake/msa/submission-header';

/** Feeds `input` in pieces of `size` bytes (1: every possible split point). */
function normalise(input: string, size = input.length || 1): { output: string; replaced: number } {
  const normaliser = new LineEndingNormaliser();
  const bytes = Buffer.from(input, 'latin1');
  const parts: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) parts.push(normaliser.normalise(bytes.subarray(offset, offset + size)));
  parts.push(normaliser.finish());
  return { output: Buffer.concat(parts).toString('latin1'), replaced: normaliser.replaced };
}

describe('line ending normalisation on submission', () => {
  const cases: Array<[string, string, string, number]> = [
    ['CRLF untouched', 'a\r\nb\r\n', 'a\r\nb\r\n', 0],
    ['bare LF', 'a\nb\n', 'a\r\nb\r\n', 2],
    ['bare CR', 'a\rb\r', 'a\r\nb\r\n', 2],
    ['mixed', 'a\r\nb\nc\rd\r\n', 'a\r\nb\r\nc\r\nd\r\n', 2],
    ['CR CR LF', 'a\r\r\nb', 'a\r\n\r\nb', 1],
    ['a dot line after a bare LF stays content (smtp-server already removed the stuffing)', 'a\n.\nb\n', 'a\r\n.\r\nb\r\n', 3],
    ['the CRLF an LF-only client sends after its last LF belongs to the terminator', 'a\nb\n\r\n', 'a\r\nb\r\n', 2],
    ['a CRLF after a bare LF inside the message is an empty line', 'a\n\r\nb\r\n', 'a\r\n\r\nb\r\n', 1],
    ['LF, CRLF, CRLF at the end keeps its empty line', 'a\n\r\n\r\n', 'a\r\n\r\n\r\n', 1],
  ];
  it.each(cases)('%s', (_name, input, expected, replaced) => {
    for (const size of [input.length, 1, 2, 3]) {
      expect(normalise(input, size)).toEqual({ output: expected, replaced });
    }
  });

  it('leaves no bare CR or LF whatever the input, split anywhere', () => {
    const alphabet = ['\r', '\n', '.', 'x'];
    for (let seed = 0; seed < 4 ** 6; seed++) {
      let input = '';
      for (let n = seed, i = 0; i < 6; i++, n = Math.floor(n / 4)) input += alphabet[n % 4];
      for (const size of [1, 2, 6]) {
        const { output } = normalise(input, size);
        expect(output.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
        expect(output).toBe(normalise(input).output);
      }
    }
  });
});

describe('the submission header section', () => {
  const context = { now: new Date('2030-01-01T10:00:00Z'), messageIdDomain: 'example.test', queueId: 'Q1' };

  it('adds Date and Message-ID at the sending domain when missing, at the end of the header section', () => {
    const result = completeSubmissionHeader(Buffer.from('From: a@example.test\r\nSubject: hi\r\n\r\n'), context);
    expect(result.added).toEqual(['Date', 'Message-ID']);
    expect(result.header.toString()).toMatch(/^From: a@example\.test\r\nSubject: hi\r\nDate: Tue, 1 Jan 2030 10:00:00 \+0000\r\nMessage-ID: <Q1\.[0-9a-f]{12}@example\.test>\r\n\r\n$/);
  });

  it('keeps a header section that has both byte for byte', () => {
    const header = Buffer.from('From: a@example.test\r\nDate: Mon, 31 Dec 2029 00:00:00 -0500\r\nMessage-ID: <x@y>\r\n\r\n');
    expect(completeSubmissionHeader(header, context)).toEqual({ header, added: [], removedBcc: 0 });
  });

  it('removes every Bcc and Resent-Bcc field, folded lines included, and nothing else', () => {
    const header = 'From: a@example.test\r\nBcc: secret@elsewhere.test,\r\n  other-secret@elsewhere.test\r\nTo: b@elsewhere.test\r\nbcc:\r\nResent-Bcc: r@elsewhere.test\r\nDate: x\r\nMessage-ID: <x@y>\r\n\r\n';
    const result = completeSubmissionHeader(Buffer.from(header), context);
    expect(result.removedBcc).toBe(3);
    expect(result.header.toString()).toBe('From: a@example.test\r\nTo: b@elsewhere.test\r\nDate: x\r\nMessage-ID: <x@y>\r\n\r\n');
  });

  it('writes RFC 5322 dates with a numeric zone', () => {
    expect(rfc5322Date(new Date('2031-11-09T03:04:05Z'))).toBe('Sun, 9 Nov 2031 03:04:05 +0000');
  });

  it('leaves a header section it cannot read to the From: check', () => {
    const header = Buffer.from('not a header line\r\n\r\n');
    expect(completeSubmissionHeader(header, context).header).toBe(header);
  });
});
