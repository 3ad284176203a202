import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Spool } from '../../relay/src/spool/spool';
import { startChildRelay } from '../helpers/child-relay';
import { writeRelayFiles } from '../helpers/relay';
import { smtpTransport } from '../helpers/submit';

const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

describe('a relay killed with SIGKILL', () => {
  it('keeps every message it acknowledged with 250, intact, and nothing it refused', async () => {
    const files = await writeRelayFiles((config) => {
      config.listen = { submissions: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 } };
    });
    const relay = await startChildRelay(files.configPath);
    const transport = smtpTransport({ port: relay.ports.submissions, ca: files.certificate.cert }, { pool: true, maxConnections: 8 });
    const acknowledged = new Map<string, string>(); // queue id -> the exact message we sent
    let refusedQueueIds = 0;
    const sends = Array.from({ length: 60 }, (_, index) => {
      // Date and Message-ID present, so the submission agent adds nothing and the bytes stay as sent.
      const raw = `Subject: n${index}\r\nMessage-ID: <m${index}@example.test>\r\nDate: Tue, 1 Jan 2030 10:00:00 +0000\r\n\r\n${`line of message ${index}\r\n`.repeat(index * 20 + 1)}`;
      // Message 7 comes from a sender the user does not own: refused, never spooled.
      const from = index === 7 ? 'intruder@example.test' : 'app@example.test';
      return transport.sendMail({ envelope: { from, to: [`r${index}@elsewhere.test`] }, raw }).then(
        (info) => {
          const id = /queued as ([0-9A-Z]+)/.exec(info.response)?.[1];
          if (id) acknowledged.set(id, raw);
          if (acknowledged.size === 40) relay.process.kill('SIGKILL');
        },
        () => (refusedQueueIds += 1),
      );
    });
    await Promise.all(sends);
    transport.close();
    await relay.exited;
    expect(acknowledged.size).toBeGreaterThanOrEqual(40);
    expect(refusedQueueIds).toBeGreaterThanOrEqual(1);

    // Restart: everything acknowledged is there and intact, leftovers of cut writes are gone.
    const restarted = await startChildRelay(files.configPath);
    try {
      const spool = new Spool(join(files.dir, 'spool'));
      const stored = await spool.list();
      const storedIds = new Set(stored.map((message) => message.envelope.id));
      for (const [id, raw] of acknowledged) {
        expect(storedIds.has(id)).toBe(true);
        const message = stored.find((candidate) => candidate.envelope.id === id);
        const body = readFileSync(message?.path ?? '').subarray(message?.bodyOffset ?? 0).toString('utf8');
        // What we stored is our Received header followed by the client's bytes, unchanged.
        expect(body.startsWith('Received: ')).toBe(true);
        expect(sha(body.slice(body.indexOf('Subject: ')))).toBe(sha(raw));
      }
      expect(stored.every((message) => message.envelope.mailFrom === 'app@example.test')).toBe(true);
      expect(readdirSync(join(files.dir, 'spool', 'tmp'))).toEqual([]);
    } finally {
      restarted.process.kill('SIGTERM');
    }
    expect(await restarted.exited).toBe(0);
  });
});
