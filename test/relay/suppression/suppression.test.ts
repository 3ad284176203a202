import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Transporter } from 'nodemailer';
import pino from 'pino';
import { SuppressionList } from '../../../relay/src/suppression/list';
import { BUNDLE } from '../../helpers/child-relay';
import { tempDir } from '../../helpers/relay';
import { arfMessage, reportMessage } from '../../helpers/report-fixtures';
import { run } from '../../helpers/run';
import { relayTransport } from '../../helpers/submit';
import { message, startDeliveryEnv, type DeliveryEnv } from '../delivery/env';

interface RefusedError {
  responseCode?: number;
  response?: string;
  rejectedErrors?: Array<{ response?: string; recipient?: string }>;
}

describe('the suppression list', () => {
  let env: DeliveryEnv;
  let submission: Transporter;
  let mx: Transporter;
  /** The remote mailbox gone@ comes back (so a new message to it is delivered, not bounced again). */
  let goneExists = false;
  const suppress = (...args: string[]) => run(process.execPath, [BUNDLE, 'suppress', ...args, '--config', env.relay.configPath]);
  /** Submits as user app; resolves with the refusal text, or undefined when accepted. */
  const refusal = (to: string[]) =>
    submission.sendMail({ envelope: { from: 'app@example.test', to }, raw: message('again', 'app@example.test', to[0]) }).then(
      (info) => ((info.rejected ?? []).length > 0 ? (info.rejectedErrors?.[0] as RefusedError | undefined)?.response ?? 'rejected' : undefined),
      (error: RefusedError) => error.rejectedErrors?.[0]?.response ?? error.response ?? String(error),
    );
  const deliverToMx = async (to: string, raw: string) => {
    const info = await mx.sendMail({ envelope: { from: 'fbl@elsewhere.test', to: [to] }, raw });
    const id = /queued as ([0-9A-Z]+)/.exec(String(info.response))?.[1] as string;
    await env.waitForEvent('finished', (event) => event.id === id);
    return id;
  };

  beforeAll(async () => {
    env = await startDeliveryEnv({
      remote: { rcptReply: (address) => (address === 'gone@elsewhere.test' && !goneExists ? 550 : undefined) },
      configure: (config) => {
        config.reports = { complaints: ['abuse@example.test'] };
      },
      relayOptions: { delivery: { controlPollMs: 50 } },
    });
    submission = relayTransport(env.relay);
    mx = relayTransport(env.relay, { listener: 'mx' });
  });
  afterAll(async () => {
    submission.close();
    mx.close();
    await env.stop();
  });

  it('suppresses a recipient that hard-bounced (5.1.1): the next submission to it gets 550 5.7.1 naming the reason and date', async () => {
    const id = await env.submit(message('first', 'app@example.test', 'gone@elsewhere.test'), { from: 'app@example.test', to: ['gone@elsewhere.test'] });
    await env.waitForEvent('finished', (event) => event.id === id);
    const today = new Date().toISOString().slice(0, 10);
    expect(await refusal(['gone@elsewhere.test'])).toBe(`550 5.7.1 <gone@elsewhere.test>: recipient suppressed since ${today} (hard bounce: 550 5.1.1 No such user here); ask the postmaster to remove it`);
    expect(await refusal(['GONE@Elsewhere.TEST'])).toMatch(/^550 5\.7\.1 <gone@elsewhere\.test>: recipient suppressed/);
    // Only that recipient is refused; the rest of the transaction goes on.
    const mixed = await submission.sendMail({ envelope: { from: 'app@example.test', to: ['gone@elsewhere.test', 'someone@elsewhere.test'] }, raw: message('mixed') });
    expect(mixed.accepted).toEqual(['someone@elsewhere.test']);
    expect(mixed.rejected).toEqual(['gone@elsewhere.test']);
    const metrics = env.relay.relay.metrics.registry;
    expect(await metrics.getSingleMetricAsString('mxkit_suppression_refusals_total')).toMatch(/\{reason="hard-bounce"\} 3/);
    expect(await metrics.getSingleMetricAsString('mxkit_user_recipients_total')).toMatch(/\{user="app",outcome="hard_bounce"\} 1/);
    // The trace of the bounced message says so.
    const trace = await run(process.execPath, [BUNDLE, 'trace', id, '--config', env.relay.configPath]);
    expect(trace.stdout).toContain('<gone@elsewhere.test> added to the suppression list (hard-bounce)');
  });

  it('mxkit suppress list shows it; remove takes it off, and submissions to it are accepted again', async () => {
    const listed = await suppress('list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^gone@elsewhere\.test {2}hard-bounce {2}since \d{4}-\d\d-\d\dT[\d:.]+Z {2}\(user app, message [0-9A-Z]{19}\) {2}550 5\.1\.1 No such user here$/m);
    const json = JSON.parse((await suppress('list', '--json')).stdout) as Array<Record<string, unknown>>;
    expect(json).toEqual([expect.objectContaining({ address: 'gone@elsewhere.test', reason: 'hard-bounce', user: 'app' })]);
    const removed = await suppress('remove', 'Gone@elsewhere.test');
    expect(removed.stdout.trim()).toBe('removed gone@elsewhere.test from the suppression list');
    goneExists = true;
    expect(await refusal(['gone@elsewhere.test'])).toBeUndefined();
    expect((await suppress('list')).stdout.trim()).toBe('the suppression list is empty');
    const missing = await suppress('remove', 'never@elsewhere.test');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/is not on the suppression list/);
  });

  it('suppresses the recipient of an ARF complaint sent to the abuse address, and counts it against the sending user', async () => {
    const id = await env.submit(message('newsletter', 'app@example.test', 'victim@elsewhere.test'), { from: 'app@example.test', to: ['victim@elsewhere.test'] });
    await env.waitForEvent('finished', (event) => event.id === id);
    const original = env.remote.messages.find((mail) => mail.rcptTo.includes('victim@elsewhere.test'));
    expect(original).toBeDefined();
    await deliverToMx('abuse@example.test', arfMessage({ from: 'fbl@elsewhere.test', to: 'abuse@example.test', originalRcptTo: 'victim@elsewhere.test', original: original?.raw.toString('latin1') ?? '' }));
    expect(await refusal(['victim@elsewhere.test'])).toMatch(/^550 5\.7\.1 <victim@elsewhere\.test>: recipient suppressed since \d{4}-\d\d-\d\d \(spam complaint: feedback type abuse\)/);
    const metrics = env.relay.relay.metrics.registry;
    expect(await metrics.getSingleMetricAsString('mxkit_user_complaints_total')).toMatch(/\{user="app"\} 1/);
    expect(await metrics.getSingleMetricAsString('mxkit_user_recipients_total')).toMatch(/\{user="app",outcome="delivered"\} [1-9]/);
    const trace = await run(process.execPath, [BUNDLE, 'trace', id, '--config', env.relay.configPath]);
    expect(trace.stdout).toContain('complaint (abuse) by <victim@elsewhere.test> reported by dns; fbl.elsewhere.test');
    const reports = await run(process.execPath, [BUNDLE, 'reports', '--config', env.relay.configPath]);
    expect(reports.stdout).toMatch(new RegExp(`abuse {2}victim@elsewhere\\.test {2}user app {2}message ${id}`));
  });

  it('does not act on mail to the abuse address that is not an ARF report, and does not forward it without a route', async () => {
    await deliverToMx('abuse@example.test', reportMessage({ from: 'someone@elsewhere.test', to: 'abuse@example.test', subject: 'your server is sending me spam' }));
    expect((await suppress('list', '--json')).stdout).not.toMatch(/someone@elsewhere\.test/);
    expect(await env.relay.relay.metrics.registry.getSingleMetricAsString('mxkit_reports_received_total')).toMatch(/\{kind="complaint",result="not_a_report"\} 1/);
  });
});

describe('the suppression journal', () => {
  const logger = pino({ level: 'silent' });
  const entry = (address: string) => ({ address, reason: 'hard-bounce' as const, detail: '550 5.1.1 no such user', at: new Date().toISOString() });

  it('survives a restart, skips a torn last line, and drops the oldest entries past maxEntries', async () => {
    const path = join(tempDir(), 'suppression.jsonl');
    const list = new SuppressionList(path, 100, logger);
    await list.open();
    for (let index = 0; index < 102; index++) await list.add(entry(`user${index}@elsewhere.test`));
    await list.remove('user50@elsewhere.test');
    appendFileSync(path, '{"op":"add","address":"torn@elsewhere.te');
    const reopened = new SuppressionList(path, 100, logger);
    await reopened.open();
    expect(reopened.size).toBe(99);
    expect(reopened.lookup('user0@elsewhere.test')).toBeUndefined();
    expect(reopened.lookup('USER101@elsewhere.test')).toMatchObject({ reason: 'hard-bounce' });
    expect(reopened.lookup('user50@elsewhere.test')).toBeUndefined();
    expect(reopened.lookup('torn@elsewhere.test')).toBeUndefined();
  });

  it('rewrites itself compactly once it holds many more lines than entries', async () => {
    const path = join(tempDir(), 'suppression.jsonl');
    const list = new SuppressionList(path, 100, logger);
    await list.open();
    for (let round = 0; round < 600; round++) {
      await list.add(entry('flappy@elsewhere.test'));
      await list.remove('flappy@elsewhere.test');
    }
    expect(readFileSync(path, 'utf8').split('\n').length).toBeLessThan(1100);
  });
});
