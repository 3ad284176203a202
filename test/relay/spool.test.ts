import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DirectorySync } from '../../relay/src/spool/directory-sync';
import { Spool } from '../../relay/src/spool/spool';
import { startTestRelay, tempDir } from '../helpers/relay';
import { SmtpDialog } from '../helpers/smtp-dialog';

describe('directory fsync group commit', () => {
  it('lets many commits that arrive together share one fsync, and never resolves a caller before a sync that began after it', async () => {
    const started: number[] = [];
    const releases: Array<() => void> = [];
    const sync = new DirectorySync('/unused', () => {
      started.push(Date.now());
      return new Promise<void>((resolve) => releases.push(resolve));
    });
    const first = sync.sync();
    const waiting = Array.from({ length: 20 }, () => sync.sync());
    let laterResolved = false;
    void Promise.all(waiting).then(() => (laterResolved = true));
    expect(started).toHaveLength(1);
    releases[0]();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    // The 20 late callers share exactly one further fsync, and are not done until it is.
    expect(started).toHaveLength(2);
    expect(laterResolved).toBe(false);
    releases[1]();
    await Promise.all(waiting);
    expect(started).toHaveLength(2);
  });
});

describe('the spool at start-up', () => {
  it('removes incomplete temp files and lists every complete message', async () => {
    const dir = tempDir();
    const spool = new Spool(dir);
    await spool.open();
    const draft = await spool.begin('0MX0000000000000001');
    await draft.writeEnvelope({ id: '0MX0000000000000001', receivedAt: new Date().toISOString(), mailFrom: '', rcptTo: ['a@b.test'], origin: 'inbound', listener: 'mx', clientAddress: '127.0.0.1', smtpUtf8: false, bodyType: '7bit' });
    await draft.write(Buffer.from('Subject: kept\r\n\r\nx\r\n'));
    await draft.commit();
    writeFileSync(join(dir, 'tmp', '0MX0000000000000002.tmp'), '{"id":"half'); // a write cut by a crash
    const spoolAgain = new Spool(dir);
    const reopened = await spoolAgain.open();
    expect(reopened.removedTemp).toBe(1);
    expect((await spoolAgain.inventory()).ids).toEqual(['0MX0000000000000001']);
    expect((await spoolAgain.list()).map((message) => message.envelope.id)).toEqual(['0MX0000000000000001']);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });
});

describe('spool files written before envelopes recorded an origin', () => {
  it('are read with the origin of the listener they name, so delivery decides them as before', async () => {
    const dir = tempDir();
    await new Spool(dir).open();
    const ids = { mx: '0MX0000000000000011', submission: '0MX0000000000000012', submissions: '0MX0000000000000013', dsn: '0MX0000000000000014' };
    for (const [listener, id] of Object.entries(ids)) {
      const envelope = { id, receivedAt: new Date().toISOString(), mailFrom: 'a@b.test', rcptTo: ['c@d.test'], listener, clientAddress: '127.0.0.1', smtpUtf8: false, bodyType: '7bit' };
      writeFileSync(join(dir, 'queue', `${id}.msg`), `${JSON.stringify(envelope)}\nSubject: old\r\n\r\nx\r\n`);
    }
    const spool = new Spool(dir);
    await spool.open();
    const messages = await spool.list();
    expect(Object.fromEntries(messages.map((message) => [message.envelope.listener, message.envelope.origin]))).toEqual({ mx: 'inbound', submission: 'submission', submissions: 'submission', dsn: 'dsn' });
    expect((await spool.load(ids.mx)).message.envelope.origin).toBe('inbound');
  });
});

describe('a spool write that fails', () => {
  it('answers 451 4.3.0 and leaves no file behind', async () => {
    const t = await startTestRelay();
    try {
      // Root ignores permissions, so break the spool another way: tmp/ stops being a folder.
      const tmp = join(t.dir, 'spool', 'tmp');
      rmSync(tmp, { recursive: true });
      writeFileSync(tmp, 'not a folder');
      const dialog = await SmtpDialog.open(t.port('mx'));
      await dialog.greet();
      await dialog.command('MAIL FROM:<sender@outside.test>');
      await dialog.command('RCPT TO:<postmaster@example.test>');
      expect((await dialog.data('Subject: x\r\n\r\nbody\r\n')).lines[0]).toMatch(/^451 4\.3\.0 /);
      rmSync(tmp);
      mkdirSync(tmp);
      // Once the disk is back, the same session can send the message again.
      await dialog.command('MAIL FROM:<sender@outside.test>');
      await dialog.command('RCPT TO:<postmaster@example.test>');
      expect((await dialog.data('Subject: x\r\n\r\nbody\r\n')).lines[0]).toMatch(/^250 2\.6\.0 /);
      dialog.close();
      expect(await t.relay.spool.count()).toBe(1);
      expect(readdirSync(tmp)).toEqual([]);
      expect(t.logs.join('\n')).toContain('could not spool the message');
    } finally {
      await t.stop();
    }
  });
});

describe('the failed list', () => {
  const record = (id: string, expiresAt: string) => ({
    id,
    receivedAt: '2030-01-01T00:00:00.000Z',
    failedAt: '2030-01-01T00:00:00.000Z',
    expiresAt,
    mailFrom: '',
    listener: 'mx',
    clientAddress: '127.0.0.9',
    recipients: [{ to: 'x@elsewhere.test', original: 'info@example.test', status: '5.1.1', reason: 'remote_5xx', detail: '550 5.1.1 no', noDsn: 'null_sender' as const }],
    others: [],
  });

  it('takes a message out of the queue with its record, lists it, and deletes it once its retention is over', async () => {
    const spool = new Spool(join(tempDir(), 'spool'));
    await spool.open();
    const queued = await spool.enqueue({ mailFrom: '', rcptTo: ['x@elsewhere.test'], origin: 'inbound', listener: 'mx', clientAddress: '127.0.0.9', smtpUtf8: false, bodyType: '7bit' }, Buffer.from('Subject: x\r\n\r\nx\r\n'));
    await spool.moveToFailed(record(queued.id, '2030-01-08T00:00:00.000Z'));
    expect(await spool.has(queued.id)).toBe(false);
    expect((await spool.failed.list()).map((entry) => entry.id)).toEqual([queued.id]);
    expect(readdirSync(spool.failed.dir).sort()).toEqual([`${queued.id}.json`, `${queued.id}.msg`]);
    expect(await spool.failed.prune(new Date('2030-01-07T23:59:59Z'), () => Promise.resolve(false))).toBe(0);
    expect(await spool.failed.prune(new Date('2030-01-08T00:00:00Z'), () => Promise.resolve(false))).toBe(1);
    expect(readdirSync(spool.failed.dir)).toEqual([]);
  });

  it('after a crash between the record and the move, lists nothing, keeps the record while the message is queued, and drops it once it is not', async () => {
    const spool = new Spool(join(tempDir(), 'spool'));
    await spool.open();
    const id = '0000000000000000001';
    writeFileSync(join(spool.failed.dir, `${id}.json`), JSON.stringify(record(id, '2999-01-01T00:00:00.000Z')));
    writeFileSync(join(spool.failed.dir, `${id}.json.123.tmp`), '{"half');
    await spool.open(); // a restart: the half-written temp record goes
    expect(readdirSync(spool.failed.dir)).toEqual([`${id}.json`]);
    expect(await spool.failed.list()).toEqual([]);
    expect(await spool.failed.prune(new Date(), () => Promise.resolve(true))).toBe(0);
    expect(readdirSync(spool.failed.dir)).toEqual([`${id}.json`]);
    await spool.failed.prune(new Date(), () => Promise.resolve(false));
    expect(readdirSync(spool.failed.dir)).toEqual([]);
  });
});
