import { getLocal as get } from '../helpers/http';
import { startChildRelay } from '../helpers/child-relay';
import { startTestRelay, writeRelayFiles, type TestRelay } from '../helpers/relay';
import { SmtpDialog } from '../helpers/smtp-dialog';
import { relayTransport } from '../helpers/submit';

describe('the ops endpoint', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay();
  });
  afterAll(() => t.stop());

  it('answers /healthz and /readyz with 200 while every listener is up', async () => {
    const healthz = await get(t.port('http'), '/healthz');
    expect([healthz.status, healthz.body]).toEqual([200, 'ok\n']);
    const readyz = await get(t.port('http'), '/readyz');
    expect([readyz.status, readyz.body]).toEqual([200, 'ready\n']);
    expect((await get(t.port('http'), '/nope')).status).toBe(404);
  });

  it('counts connections, accepted messages, bytes, refusals by reason and auth failures in /metrics', async () => {
    const transport = relayTransport(t);
    await transport.sendMail({ from: 'app@example.test', to: 'a@elsewhere.test', subject: 'm', text: 'metrics' });
    const dialog = await SmtpDialog.open(t.port('mx'));
    await dialog.greet();
    await dialog.command('MAIL FROM:<x@outside.test>');
    await dialog.command('RCPT TO:<victim@elsewhere.test>');
    await dialog.command('RCPT TO:<nobody@example.test>');
    // An SRS address answered like an unknown user, but counted under its own reason.
    expect((await dialog.command('RCPT TO:<SRS0=abcd=AB=outside.test=x@example.test>')).code).toBe(550);
    dialog.close();
    await relayTransport(t, { auth: { user: 'app', pass: 'wrong' } })
      .verify()
      .catch(() => undefined);
    const { body } = await get(t.port('http'), '/metrics');
    expect(body).toMatch(/^mxkit_messages_accepted_total\{listener="submissions"\} 1$/m);
    expect(body).toMatch(/^mxkit_messages_rejected_total\{listener="mx",reason="relay_denied"\} 1$/m);
    expect(body).toMatch(/^mxkit_messages_rejected_total\{listener="mx",reason="unknown_user"\} 1$/m);
    expect(body).toMatch(/^mxkit_messages_rejected_total\{listener="mx",reason="srs_not_null_sender"\} 1$/m);
    expect(body).toMatch(/^mxkit_auth_failures_total\{listener="submissions"\} 1$/m);
    expect(body).toMatch(/^mxkit_received_bytes_total\{listener="submissions"\} [1-9]\d*$/m);
    expect(body).toMatch(/^mxkit_smtp_connections_total\{listener="mx"\} [1-9]/m);
    expect(body).toMatch(/^mxkit_spool_messages 1$/m);
  });
});

describe('SIGTERM', () => {
  it('turns new clients away with 421 4.3.2, lets the open transaction finish with 250, then exits 0', async () => {
    const files = await writeRelayFiles();
    const relay = await startChildRelay(files.configPath);
    const inFlight = await SmtpDialog.open(relay.ports.mx);
    await inFlight.greet();
    await inFlight.command('MAIL FROM:<sender@outside.test>');
    await inFlight.command('RCPT TO:<postmaster@example.test>');
    expect((await inFlight.command('DATA')).code).toBe(354);
    inFlight.write('Subject: in flight\r\n\r\nfirst half\r\n');

    relay.process.kill('SIGTERM');
    await relay.waitFor(/shutting down/);
    expect((await get(relay.ports.http, '/readyz')).status).toBe(503);
    const late = await SmtpDialog.open(relay.ports.mx);
    expect((await late.read()).lines[0]).toMatch(/^421 4\.3\.2 /);

    inFlight.write('second half\r\n.\r\n');
    expect((await inFlight.read()).lines[0]).toMatch(/^250 2\.6\.0 Ok: queued as /);
    await inFlight.command('QUIT');
    expect(await relay.exited).toBe(0);
  });
});
