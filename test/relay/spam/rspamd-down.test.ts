/**
 * rspamd stopped under a running relay: `onError: accept` keeps mail flowing, marked
 * "X-Spam: unscanned" and counted; `onError: tempfail` answers 451 and stores nothing.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestRelay, type TestRelay } from '../../helpers/relay';
import { startTestRspamd, type TestRspamd } from '../../helpers/rspamd';
import { SmtpDialog, type Reply } from '../../helpers/smtp-dialog';

async function sendToMx(relay: TestRelay, subject: string): Promise<Reply> {
  const client = await SmtpDialog.open(relay.port('mx'));
  try {
    await client.read();
    await client.command('EHLO mta.sender.test');
    await client.command('MAIL FROM:<alice@sender.test>');
    const rcpt = await client.command('RCPT TO:<info@example.test>');
    if (rcpt.code !== 250) return rcpt;
    return await client.data(`From: <alice@sender.test>\r\nTo: <info@example.test>\r\nSubject: ${subject}\r\n\r\nhello\r\n`);
  } finally {
    client.close();
  }
}

/** The stored header section of the spooled message with this subject. */
async function spooledHeaders(relay: TestRelay, subject: string): Promise<string | undefined> {
  for (const spooled of await relay.relay.spool.list()) {
    const text = (await relay.relay.spool.load(spooled.envelope.id)).body.toString('latin1');
    const headers = text.slice(0, text.indexOf('\r\n\r\n') + 2);
    if (headers.includes(`Subject: ${subject}\r\n`)) return headers;
  }
  return undefined;
}

async function metric(relay: TestRelay, pattern: RegExp): Promise<boolean> {
  return pattern.test(await relay.relay.metrics.registry.metrics());
}

describe('when rspamd stops answering', () => {
  let rspamd: TestRspamd;
  let accepting: TestRelay;
  let deferring: TestRelay;

  beforeAll(async () => {
    rspamd = await startTestRspamd();
    const spam = (onError: 'accept' | 'tempfail') => ({ dnsbl: [], rspamd: { url: rspamd.url, flagScore: 6, rejectScore: 15, timeout: '5s', onError } });
    accepting = await startTestRelay((config) => void (config.spam = spam('accept')));
    deferring = await startTestRelay((config) => void (config.spam = spam('tempfail')));
  });
  afterAll(async () => {
    await accepting?.stop();
    await deferring?.stop();
    await rspamd?.close();
  });

  it('scans normally while rspamd is up', async () => {
    expect((await sendToMx(accepting, 'while up')).code).toBe(250);
    expect(await spooledHeaders(accepting, 'while up')).not.toMatch(/^X-Spam/m);
  });

  it('with onError accept: takes the message, marks it X-Spam: unscanned, and counts the error', async () => {
    await rspamd.stop();
    expect((await sendToMx(accepting, 'while down')).code).toBe(250);
    expect(await spooledHeaders(accepting, 'while down')).toMatch(/^X-Spam: unscanned\r\n/);
    expect(await metric(accepting, /^mxkit_rspamd_errors_total\{reason="unavailable"\} 1$/m)).toBe(true);
    expect(await metric(accepting, /^mxkit_spam_verdicts_total\{listener="mx",action="unscanned"\} 1$/m)).toBe(true);
    await accepting.waitForLog(/rspamd scan failed/);
  });

  it('with onError tempfail: answers 451 4.3.0 and stores nothing', async () => {
    const reply = await sendToMx(deferring, 'deferred');
    expect(reply.lines[0]).toBe('451 4.3.0 Content scan unavailable, try again later');
    expect(await deferring.relay.spool.count()).toBe(0);
    expect(readdirSync(join(deferring.dir, 'spool', 'tmp'))).toEqual([]);
    expect(await metric(deferring, /^mxkit_spam_verdicts_total\{listener="mx",action="tempfail"\} 1$/m)).toBe(true);
  });
});
