import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Spool } from '../../relay/src/spool/spool';
import { PASSWORD, startTestRelay, tempDir, type TestRelay } from '../helpers/relay';
import { SmtpDialog } from '../helpers/smtp-dialog';
import { relayTransport } from '../helpers/submit';

let t: TestRelay;
beforeAll(async () => {
  t = await startTestRelay((config) => {
    config.limits = { maxMessageBytes: 64 * 1024, maxRecipients: 5, maxConnectionsPerIp: 20, maxConnections: 4, reservedConnections: 1, authFailuresPerIp: 3 };
    config.users = [
      ...(config.users ?? []),
      { username: 'other', passwordHash: config.users?.[0].passwordHash ?? '', allowedFrom: ['other@example.test'] },
    ];
  });
});
afterAll(() => t.stop());

const transport = (user: string, pass: string) => relayTransport(t, { auth: { user, pass } });

describe('an authenticated user', () => {
  it("cannot put someone else's address in From: (550 5.7.1), so we never DKIM-sign as them", async () => {
    await expect(
      transport('app', PASSWORD).sendMail({ envelope: { from: 'app@example.test', to: ['a@elsewhere.test'] }, from: 'ceo@example.test', to: 'a@elsewhere.test', text: 'x' }),
    ).rejects.toMatchObject({ response: expect.stringMatching(/^550 5\.7\.1 From: <ceo@example\.test>/) });
  });

  it('may use a display name and folding in From: for an allowed address', async () => {
    const raw = 'From: "The App,\r\n Inc." <app@example.test>\r\nTo: a@elsewhere.test\r\nSubject: ok\r\n\r\nx\r\n';
    const info = await transport('app', PASSWORD).sendMail({ envelope: { from: 'app@example.test', to: ['a@elsewhere.test'] }, raw });
    expect(info.response).toMatch(/^250 /);
  });

  it('cannot clear the AUTH failure count of its address by logging in between guesses', async () => {
    const guess = () =>
      transport('other', 'wrong guess')
        .verify()
        .then(() => 'ok', (error: { response?: string }) => error.response ?? '');
    expect(await guess()).toMatch(/^535 /);
    expect(await guess()).toMatch(/^535 /);
    expect(await transport('app', PASSWORD).verify()).toBe(true);
    expect(await guess()).toMatch(/^421 4\.7\.0 /);
  });
});

describe('a client that disconnects in the middle of DATA', () => {
  it('leaves no temp file and no message behind', async () => {
    const before = await t.relay.spool.count();
    const dialog = await SmtpDialog.open(t.port('mx'));
    await dialog.greet();
    await dialog.command('MAIL FROM:<sender@outside.test>');
    await dialog.command('RCPT TO:<postmaster@example.test>');
    expect((await dialog.command('DATA')).code).toBe(354);
    dialog.write('Subject: cut\r\n\r\nhalf a message');
    dialog.close();
    await t.waitForLog(/client disconnected during DATA/);
    expect(readdirSync(join(t.dir, 'spool', 'tmp'))).toEqual([]);
    expect(await t.relay.spool.count()).toBe(before);
  });
});

describe('sessions in all', () => {
  it('fill one listener only up to what the reservations of the others leave (421 4.3.2), and never the others', async () => {
    // maxConnections 4, one slot kept for each of the three listeners: mx can hold 2.
    const open = await Promise.all([1, 2].map(() => SmtpDialog.open(t.port('mx'))));
    await Promise.all(open.map((dialog) => dialog.read()));
    const extra = await SmtpDialog.open(t.port('mx'));
    expect((await extra.read()).lines[0]).toMatch(/^421 4\.3\.2 /);
    const submission = await SmtpDialog.open(t.port('submission'));
    expect((await submission.read()).code).toBe(220);
    open.forEach((dialog) => dialog.close());
    extra.close();
    submission.close();
  });
});

describe('a message with a very long envelope', () => {
  it('is read back from the spool whole, however long its envelope line', async () => {
    const dir = tempDir();
    const spool = new Spool(dir);
    await spool.open();
    const id = '0MX0000000000000009';
    const rcptTo = Array.from({ length: 2000 }, (_, index) => `recipient-number-${index}-with-a-long-local-part@elsewhere.test`);
    const draft = await spool.begin(id);
    await draft.writeEnvelope({ id, receivedAt: new Date().toISOString(), mailFrom: 'a@x.test', rcptTo, origin: 'submission', listener: 'submission', clientAddress: '127.0.0.1', smtpUtf8: false, bodyType: '7bit' });
    await draft.write(Buffer.from('Subject: many\r\n\r\nx\r\n'));
    await draft.commit();
    const [message] = await spool.list();
    expect(message.envelope.rcptTo).toHaveLength(2000);
    expect(message.bodyOffset).toBeGreaterThan(64 * 1024);
  });
});
