/**
 * The delivery's SMTP client (relay/src/delivery/smtp-client.ts) against a real SMTP server.
 *
 * An outbound connection kept for reuse must not keep the messages it carried: delivery of large
 * forwarded mail grew the relay by every message sent over a reused connection (issue 13 point 4,
 * found by `npm run bench -- --memory`).
 *
 * A message handed over in pieces (the DKIM signature headers, then the spooled message) arrives as
 * their exact concatenation, whether the client joins the pieces (a small message) or streams them
 * one after the other (a large one), dot-stuffed (RFC 5321 4.5.2) across the seam between them.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { closeIdleConnections, sendOverSmtp } from '../../../relay/src/delivery/smtp-client';
import { startReceiver, type Receiver } from '../../helpers/receiver';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver({ tls: false });
});
afterAll(async () => {
  closeIdleConnections();
  await receiver.close();
});

describe('an outbound connection kept idle for reuse', () => {
  it('holds on to none of the messages it carried', async () => {
    const target = { host: receiver.host, port: receiver.port, servername: 'mx.elsewhere.test', heloName: 'mail.example.test', tls: 'opportunistic' as const };
    const carried: Array<WeakRef<Buffer>> = [];
    // Each message lives only in this function's frame, which ends with the send.
    const sendOne = async (index: number) => {
      const message = Buffer.from(`Subject: ${index}\r\n\r\n${'x'.repeat(1024 * 1024)}\r\n`);
      carried.push(new WeakRef(message));
      return (await sendOverSmtp(target, 'a@example.test', ['b@elsewhere.test'], message)).kind;
    };
    const before = receiver.messages.length;
    for (let index = 0; index < 3; index++) expect(await sendOne(index)).toBe('session');
    expect(receiver.messages).toHaveLength(before + 3);
    // The connection is still open and idle (reused for all three); the messages must be garbage.
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(carried.map((ref) => ref.deref() === undefined)).toEqual([true, true, true]);
  });
});

describe('a message sent in pieces', () => {
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
