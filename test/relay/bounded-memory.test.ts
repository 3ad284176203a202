/**
 * Bounded memory (issue 13 point 4): messages stream into the spool's temp file once and the
 * checks read them back from it; the verdict headers land in front of the stored message whether
 * they fit the room kept for them or not; a global in-flight byte budget answers 452 4.3.1.
 * (The 100 x 20 MB and memory-cgroup measurements are in `npm run bench -- --memory`.)
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { Spool } from '../../relay/src/spool/spool';
import type { SpoolEnvelope } from '../../relay/src/spool/envelope';
import { startTestRelay, tempDir, type TestRelay } from '../helpers/relay';
import { SmtpDialog } from '../helpers/smtp-dialog';

const envelope = (id: string): SpoolEnvelope => ({ id, receivedAt: new Date().toISOString(), mailFrom: 'a@x.test', rcptTo: ['b@example.test'], origin: 'inbound', listener: 'mx', clientAddress: '127.0.0.1', smtpUtf8: false, bodyType: '7bit' });

describe('a spool draft begun with head room', () => {
  it.each([
    ['fit the room', 40],
    ['do not fit the room', 4000],
  ])('stores envelope, verdict headers and message in order when the headers %s', async (_case, headerLength) => {
    const spool = new Spool(tempDir());
    await spool.open();
    const id = '0MX0000000000000011';
    const stored = envelope(id);
    const draft = await spool.begin(id, { headRoom: 512 });
    await draft.write(Buffer.from('Received: by us\r\nSubject: x\r\n\r\nbody\r\n'));
    expect(await text(draft.readBack())).toBe('Received: by us\r\nSubject: x\r\n\r\nbody\r\n');
    const prefix = Buffer.from(`X-Verdict: ${'v'.repeat(headerLength)}\r\n`);
    await draft.commit({ envelope: stored, prefix });
    const { message, body } = await spool.load(id);
    expect(message.envelope).toEqual(stored);
    expect(body.toString()).toBe(`${prefix.toString()}Received: by us\r\nSubject: x\r\n\r\nbody\r\n`);
    expect(readdirSync(spool.tmpDir)).toEqual([]);
    expect((await spool.read(id)).bodyOffset).toBe(readFileSync(spool.pathOf(id)).indexOf('\n') + 1);
  });
});

describe('a spool draft written in pieces of every size', () => {
  it('stores them in order, as they were when written, small ones gathered and large ones streamed', async () => {
    const spool = new Spool(tempDir());
    await spool.open();
    const id = '0MX0000000000000012';
    const draft = await spool.begin(id, { headRoom: 512 });
    const small = Buffer.from('Subject: pieces\r\n\r\n');
    const pieces = [small, Buffer.alloc(10_000, 'a'), Buffer.alloc(20_000, 'b'), Buffer.from('\r\n'), Buffer.alloc(100_000, 'c'), Buffer.from('end\r\n')];
    const expected = digest(Buffer.concat(pieces).toString());
    for (const piece of pieces) {
      await draft.write(piece);
      // A caller that reuses its buffer once write resolved changes nothing stored.
      if (piece === small) small.fill('X');
    }
    expect(draft.bodyBytes).toBe(130_026);
    expect(digest(await text(draft.readBack()))).toBe(expected);
    await draft.commit({ envelope: envelope(id), prefix: Buffer.alloc(0) });
    expect(digest((await spool.load(id)).body.toString())).toBe(expected);
  });
});

const digest = (value: string) => createHash('sha256').update(value).digest('hex');

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 20));
}

async function inFlight(t: TestRelay): Promise<number> {
  const metric = await t.relay.metrics.registry.getSingleMetric('mxkit_smtp_in_flight_bytes')?.get();
  return metric?.values[0]?.value ?? 0;
}

async function openTransaction(t: TestRelay, size?: number): Promise<{ dialog: SmtpDialog; mail: string }> {
  const dialog = await SmtpDialog.open(t.port('mx'));
  await dialog.greet();
  const mail = await dialog.command(`MAIL FROM:<sender@outside.test>${size ? ` SIZE=${size}` : ''}`);
  if (mail.code === 250) await dialog.command('RCPT TO:<postmaster@example.test>');
  return { dialog, mail: mail.lines[0] };
}

describe('the in-flight byte budget', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay((config) => {
      config.limits = { ...config.limits, maxMessageBytes: 200 * 1024, maxInFlightBytes: 100 * 1024 };
    });
  });
  afterAll(() => t.stop());

  const body = (label: string) => `Subject: ${label}\r\n\r\n${`${'y'.repeat(78)}\r\n`.repeat(1000)}`;

  it('answers 452 4.3.1 to a message that does not fit beside the ones in flight, and takes it once they are done', async () => {
    const first = await openTransaction(t);
    expect((await first.dialog.command('DATA')).code).toBe(354);
    first.dialog.write(body('first')); // ~80 KB, not yet ended
    await waitFor(async () => (await inFlight(t)) >= 80_000);

    const second = await openTransaction(t);
    expect((await second.dialog.data(body('second'))).lines[0]).toMatch(/^452 4\.3\.1 /);
    second.dialog.close();

    first.dialog.write('\r\n.\r\n');
    expect((await first.dialog.read()).lines[0]).toMatch(/^250 /);
    first.dialog.close();
    expect(await inFlight(t)).toBe(0);

    const third = await openTransaction(t);
    expect((await third.dialog.data(body('third'))).lines[0]).toMatch(/^250 /);
    third.dialog.close();
    expect(readdirSync(join(t.dir, 'spool', 'tmp'))).toEqual([]);
    expect(await t.relay.spool.count()).toBe(2);
  });

  it('refuses at MAIL FROM a declared SIZE that cannot fit (RFC 1870), before any byte is sent', async () => {
    const { dialog, mail } = await openTransaction(t, 150 * 1024);
    expect(mail).toMatch(/^452 4\.3\.1 /);
    dialog.close();
  });
});
