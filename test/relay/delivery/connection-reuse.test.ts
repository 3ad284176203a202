/**
 * An outbound connection kept for reuse must not keep the messages it carried: delivery of large
 * forwarded mail grew the relay by every message sent over a reused connection (issue 13 point 4,
 * found by `npm run bench -- --memory`).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { closeIdleConnections, sendOverSmtp } from '../../../relay/src/delivery/smtp-client';
import { startReceiver, type Receiver } from '../../helpers/receiver';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

describe('an outbound connection kept idle for reuse', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver({ tls: false });
  });
  afterAll(async () => {
    closeIdleConnections();
    await receiver.close();
  });

  it('holds on to none of the messages it carried', async () => {
    const target = { host: receiver.host, port: receiver.port, servername: 'mx.elsewhere.test', heloName: 'mail.example.test', tls: 'opportunistic' as const };
    const carried: Array<WeakRef<Buffer>> = [];
    // Each message lives only in this function's frame, which ends with the send.
    const sendOne = async (index: number) => {
      const message = Buffer.from(`Subject: ${index}\r\n\r\n${'x'.repeat(1024 * 1024)}\r\n`);
      carried.push(new WeakRef(message));
      return (await sendOverSmtp(target, 'a@example.test', ['b@elsewhere.test'], message)).kind;
    };
    for (let index = 0; index < 3; index++) expect(await sendOne(index)).toBe('session');
    expect(receiver.messages).toHaveLength(3);
    // The connection is still open and idle (reused for all three); the messages must be garbage.
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(carried.map((ref) => ref.deref() === undefined)).toEqual([true, true, true]);
  });
});
