import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SmtpDialog } from '../helpers/smtp-dialog';
import { startTestRelay, type TestRelay } from '../helpers/relay';

let t: TestRelay;
beforeAll(async () => {
  t = await startTestRelay((config) => {
    config.limits = { maxMessageBytes: 64 * 1024, maxRecipients: 5, maxConnectionsPerIp: 3, idleTimeout: '2s' };
    config.routes = [{ match: '*@example.test', forward: ['inbox@elsewhere.test'] }];
  });
});
afterAll(() => t.stop());

async function openTransaction(): Promise<SmtpDialog> {
  const dialog = await SmtpDialog.open(t.port('mx'));
  await dialog.greet();
  await dialog.command('MAIL FROM:<sender@outside.test>');
  return dialog;
}

describe('message size', () => {
  it('is refused at MAIL FROM when the declared SIZE is over the limit (552 5.3.4)', async () => {
    const dialog = await SmtpDialog.open(t.port('mx'));
    await dialog.greet();
    expect((await dialog.command('MAIL FROM:<sender@outside.test> SIZE=100000')).lines[0]).toMatch(/^552 5\.3\.4 /);
    dialog.close();
  });

  it('is enforced on the stream: 552 5.3.4, no spool file, and the session goes on', async () => {
    const dialog = await openTransaction();
    await dialog.command('RCPT TO:<a@example.test>');
    const big = `Subject: big\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(80);
    expect((await dialog.data(big)).lines[0]).toMatch(/^552 5\.3\.4 /);
    expect(await t.relay.spool.count()).toBe(0);
    expect(readdirSync(join(t.dir, 'spool', 'tmp'))).toEqual([]);
    await dialog.command('MAIL FROM:<sender@outside.test>');
    await dialog.command('RCPT TO:<a@example.test>');
    expect((await dialog.data('Subject: small\r\n\r\nok\r\n')).lines[0]).toMatch(/^250 2\.6\.0 /);
    dialog.close();
    expect(await t.relay.spool.count()).toBe(1);
    await t.relay.spool.remove((await t.relay.spool.list())[0].envelope.id);
  });
});

describe('recipients per message', () => {
  it('stop at maxRecipients with 452 4.5.3', async () => {
    const dialog = await openTransaction();
    for (let index = 1; index <= 5; index++) expect((await dialog.command(`RCPT TO:<user${index}@example.test>`)).code).toBe(250);
    expect((await dialog.command('RCPT TO:<user6@example.test>')).lines[0]).toMatch(/^452 4\.5\.3 /);
    dialog.close();
  });
});

describe('connections per client address', () => {
  it('beyond maxConnectionsPerIp are answered 421 and closed', async () => {
    const open = await Promise.all([1, 2, 3].map(() => SmtpDialog.open(t.port('mx'))));
    await Promise.all(open.map((dialog) => dialog.read()));
    const extra = await SmtpDialog.open(t.port('mx'));
    expect((await extra.read()).lines[0]).toMatch(/^421 4\.7\.0 /);
    open.forEach((dialog) => dialog.close());
    extra.close();
    await t.waitForNoSessions();
  });
});

describe('an idle client', () => {
  it('is disconnected after the idle timeout', async () => {
    const dialog = await SmtpDialog.open(t.port('mx'));
    await dialog.greet();
    const reply = await dialog.read(); // nothing sent: the next thing we hear is the timeout
    expect(reply.code).toBe(421);
    await expect(dialog.read()).rejects.toThrow(/connection closed/);
  });
});
