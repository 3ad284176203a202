/**
 * A message handed to the SMTP client in pieces (the DKIM signature headers, then the spooled
 * message) arrives as their exact concatenation, whether the client joins the pieces (a small
 * message) or streams them one after the other (a large one), with dot-stuffing (RFC 5321 4.5.2)
 * applied across the seam between them.
 */
import { closeIdleConnections, sendOverSmtp } from '../../../relay/src/delivery/smtp-client';
import { startReceiver, type Receiver } from '../../helpers/receiver';

describe('a message sent in pieces', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver({ tls: false });
  });
  afterAll(async () => {
    closeIdleConnections();
    await receiver.close();
  });

  const signature = Buffer.from('DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=mx1;\r\n b=abc\r\n');
  // The second piece starts with a line that begins with a dot, right at the seam, and has more.
  const body = (filler: number) => Buffer.from(`.leading dot at the seam\r\nSubject: pieces\r\n\r\n${'line of text\r\n'.repeat(filler)}..two dots\r\n.\r\nafter a lone dot\r\n`);

  test.each([
    { size: 'small (joined)', filler: 10 },
    { size: 'large (streamed)', filler: 40_000 },
  ])('arrives byte for byte when it is $size', async ({ filler }) => {
    const target = { host: receiver.host, port: receiver.port, servername: 'mx.elsewhere.test', heloName: 'mail.example.test', tls: 'opportunistic' as const };
    const pieces = [signature, body(filler)];
    const before = receiver.messages.length;
    const result = await sendOverSmtp(target, 'a@example.test', ['b@elsewhere.test'], pieces);
    expect(result.kind).toBe('session');
    expect(receiver.messages).toHaveLength(before + 1);
    expect(receiver.messages[before].raw.equals(Buffer.concat(pieces))).toBe(true);
  });
});
