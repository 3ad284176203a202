import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createExclusive, LARGE_WRITE_BYTES, removeIfPresent, writeAllAt } from '../../relay/src/spool/file-ops';
import type { SpoolEnvelope } from '../../relay/src/spool/envelope';
import { newQueueId, QUEUE_ID_PATTERN } from '../../relay/src/spool/queue-id';
import { Spool } from '../../relay/src/spool/spool';
import { tempDir } from '../helpers/relay';

describe('the spool file operations', () => {
  it.each([
    ['a small piece (written on the event loop)', 100],
    ['a piece just under the large-write size', LARGE_WRITE_BYTES - 1],
    ['a large piece (written through the thread pool)', LARGE_WRITE_BYTES * 5 + 3],
  ])('write %s at its offset, every byte of it', async (_name, length) => {
    const path = join(tempDir(), 'file');
    const fd = await createExclusive(path, 0o600);
    try {
      const bytes = Buffer.alloc(length + 10, 0x61);
      bytes.fill(0x62, 10);
      await writeAllAt(fd, Buffer.from('0123456789'), 10, 0);
      await writeAllAt(fd, bytes.subarray(10), length, 10);
    } finally {
      closeSync(fd);
    }
    const written = readFileSync(path);
    expect(written.length).toBe(length + 10);
    expect(written.subarray(0, 10).toString()).toBe('0123456789');
    expect(written.subarray(10).every((byte) => byte === 0x62)).toBe(true);
  });

  it('refuses to create a temp file that already exists, so two drafts never share one', async () => {
    const path = join(tempDir(), 'taken');
    writeFileSync(path, 'first');
    await expect(createExclusive(path, 0o600)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(path, 'utf8')).toBe('first');
  });

  it('removes a file once and reports the second removal as already gone', async () => {
    const path = join(tempDir(), 'gone');
    closeSync(openSync(path, 'w'));
    expect(await removeIfPresent(path)).toBe(true);
    expect(existsSync(path)).toBe(false);
    expect(await removeIfPresent(path)).toBe(false);
  });

  it('passes on an error that is not "already gone" instead of calling the file removed', async () => {
    // Unlinking a folder fails with EISDIR (or EPERM), never ENOENT.
    await expect(removeIfPresent(tempDir())).rejects.toMatchObject({ code: expect.stringMatching(/^(EISDIR|EPERM)$/) });
  });
});

describe('queue ids', () => {
  it('stay unique when thousands are made in the same millisecond (across refills of the random page)', () => {
    const ids = Array.from({ length: 5_000 }, () => newQueueId(1_700_000_000_000));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => QUEUE_ID_PATTERN.test(id))).toBe(true);
  });
});

describe('a spooled message read back for delivery', () => {
  const envelope: Omit<SpoolEnvelope, 'id' | 'receivedAt'> = { mailFrom: 'a@b.test', rcptTo: ['c@d.test'], origin: 'inbound', listener: 'mx', clientAddress: '127.0.0.1', smtpUtf8: false, bodyType: '8bitmime' };

  it('comes back whole, envelope and bytes, whatever was read on the event loop before it', async () => {
    const spool = new Spool(tempDir());
    await spool.open();
    const bodies = [Buffer.alloc(70 * 1024, 0x78), Buffer.from('Subject: small\r\n\r\nsmall\r\n')];
    const ids: string[] = [];
    for (const body of bodies) ids.push((await spool.enqueue(envelope, body)).id);
    // The large one first: its first read fills the shared buffer that the small one reuses.
    const large = await spool.head(ids[0], { recent: true });
    const small = await spool.head(ids[1], { recent: true });
    expect(large.message.envelope.id).toBe(ids[0]);
    expect(large.body).toBeUndefined();
    expect(small.body?.toString()).toBe(bodies[1].toString());
    await spool.head(ids[0], { recent: true });
    expect((await spool.load(ids[0])).body.equals(bodies[0])).toBe(true);
    expect(small.body?.toString()).toBe(bodies[1].toString());
  });

  it('comes back whole when many are read through the thread pool at once (files from before a restart)', async () => {
    const spool = new Spool(tempDir());
    await spool.open();
    const bodies = Array.from({ length: 16 }, (_, index) => Buffer.from(`Subject: ${index}\r\n\r\n${String(index).repeat(500 + index)}\r\n`));
    const ids: string[] = [];
    for (const body of bodies) ids.push((await spool.enqueue(envelope, body)).id);
    const heads = await Promise.all(ids.map((id) => spool.head(id)));
    heads.forEach((head, index) => {
      expect(head.message.envelope.id).toBe(ids[index]);
      expect(head.body?.equals(bodies[index])).toBe(true);
    });
  });
});

describe('a spool draft with head room', () => {
  const envelope = (id: string): SpoolEnvelope => ({ id, receivedAt: '2026-11-30T00:00:00.000Z', mailFrom: 'a@b.test', rcptTo: ['c@d.test'], origin: 'inbound', listener: 'mx', clientAddress: '127.0.0.1', smtpUtf8: false, bodyType: '8bitmime' });

  it.each([
    ['fits the room', 4096, 'X-Check: pass\r\n'],
    ['is larger than the room (the message is copied behind it)', 16, `X-Check: ${'long '.repeat(20_000)}\r\n`],
  ])('commits envelope, headers and message in order when the head %s', async (_name, headRoom, prefix) => {
    const spool = new Spool(tempDir());
    await spool.open();
    const id = newQueueId();
    const draft = await spool.begin(id, { headRoom });
    const message = Buffer.concat([Buffer.from('Subject: s\r\n\r\n'), Buffer.alloc(200 * 1024, 0x79), Buffer.from('\r\n')]);
    for (let offset = 0; offset < message.length; offset += 7_000) await draft.write(message.subarray(offset, offset + 7_000));
    await draft.commit({ envelope: envelope(id), prefix: Buffer.from(prefix) });
    const { message: spooled, body } = await spool.load(id);
    expect(spooled.envelope.id).toBe(id);
    expect(body.equals(Buffer.concat([Buffer.from(prefix), message]))).toBe(true);
    expect(readdirSync(spool.tmpDir)).toEqual([]);
  });

  it('leaves nothing behind when aborted', async () => {
    const spool = new Spool(tempDir());
    await spool.open();
    const draft = await spool.begin(newQueueId(), { headRoom: 64 });
    await draft.write(Buffer.alloc(40 * 1024, 0x7a));
    await draft.abort();
    expect(readdirSync(spool.tmpDir)).toEqual([]);
    expect(await spool.count()).toBe(0);
  });
});
