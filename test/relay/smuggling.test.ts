import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SmtpDialog } from '../helpers/smtp-dialog';
import { startTestRelay, type TestRelay } from '../helpers/relay';
import { FAKE_TERMINATORS } from '../helpers/smuggling';

let t: TestRelay;
beforeAll(async () => {
  t = await startTestRelay();
});
afterAll(() => t.stop());

const SMUGGLED = 'MAIL FROM:<ceo@example.test>\r\nRCPT TO:<postmaster@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n';

describe('a message with a fake end-of-data sequence', () => {
  it.each(FAKE_TERMINATORS)('%s is refused whole and smuggles no second message', async (_name, fake) => {
    const dialog = await SmtpDialog.open(t.port('mx'));
    await dialog.greet();
    await dialog.command('MAIL FROM:<sender@outside.test>');
    await dialog.command('RCPT TO:<postmaster@example.test>');
    const reply = await dialog.data(`Subject: first\r\n\r\nhello${fake}${SMUGGLED}`);
    expect(reply.lines[0]).toMatch(/^554 5\.6\.0 /);
    // The very next reply answers our NOOP: nothing inside the message was run as a command.
    expect((await dialog.command('NOOP')).lines[0]).toMatch(/^250 /);
    dialog.close();
    expect(await t.relay.spool.count()).toBe(0);
    expect(readdirSync(join(t.dir, 'spool', 'tmp'))).toEqual([]);
  });

  it('a clean CRLF message on the same listener is still accepted', async () => {
    const dialog = await SmtpDialog.open(t.port('mx'));
    await dialog.greet();
    await dialog.command('MAIL FROM:<sender@outside.test>');
    await dialog.command('RCPT TO:<postmaster@example.test>');
    expect((await dialog.data('Subject: fine\r\n\r\nline one\r\n..dot-stuffed line\r\n')).lines[0]).toMatch(/^250 2\.6\.0 /);
    dialog.close();
    const [message] = await t.relay.spool.list();
    await t.relay.spool.remove(message.envelope.id);
  });
});
