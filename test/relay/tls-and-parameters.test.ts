/**
 * TLS and parameters (issue 13 point 6): TLS 1.2 only with ECDHE and AEAD suites, no
 * renegotiation, testssl.sh finds nothing MEDIUM or worse with a valid certificate, a client's
 * broken TLS is an info line without a stack, and MAIL/RCPT parameters of extensions we do not
 * advertise get 555 5.5.4.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { HOSTNAME, PASSWORD, startTestRelay, tempDir, type TestRelay } from '../helpers/relay';
import { SmtpDialog } from '../helpers/smtp-dialog';
import { makeCaSignedCertificate, type CaSignedCertificate } from '../helpers/tls';

let t: TestRelay;
let certificate: CaSignedCertificate;
beforeAll(async () => {
  certificate = makeCaSignedCertificate(HOSTNAME);
  t = await startTestRelay((config, dir) => {
    writeFileSync(join(dir, 'tls.crt'), certificate.cert);
    writeFileSync(join(dir, 'tls.key'), certificate.key, { mode: 0o600 });
  });
});
afterAll(() => t.stop());

/** A TLS session on a listener: STARTTLS on mx and submission, implicit on submissions. */
async function secure(listener: 'mx' | 'submission' | 'submissions', options: ConnectionOptions): Promise<{ dialog: SmtpDialog; socket: TLSSocket }> {
  if (listener === 'submissions') {
    const socket = tlsConnect({ host: '127.0.0.1', port: t.port(listener), ca: certificate.ca, servername: HOSTNAME, ...options });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    socket.destroy();
    return { dialog: await SmtpDialog.open(t.port(listener), { implicitTls: { ca: certificate.ca, servername: HOSTNAME } }), socket };
  }
  const dialog = await SmtpDialog.open(t.port(listener));
  await dialog.greet();
  const socket = await dialog.startTls(certificate.ca, HOSTNAME, options);
  return { dialog, socket };
}

async function negotiates(listener: 'mx' | 'submission' | 'submissions', cipher: string): Promise<boolean> {
  try {
    const { dialog } = await secure(listener, { maxVersion: 'TLSv1.2', ciphers: cipher });
    dialog.close();
    return true;
  } catch {
    return false;
  }
}

describe('TLS 1.2 on every SMTP listener', () => {
  const listeners = ['mx', 'submission', 'submissions'] as const;
  it.each(listeners)('on %s offers ECDHE with AEAD ciphers only: no static RSA, no CBC, no CCM-8, no finite-field DHE', async (listener) => {
    const offered: Record<string, boolean> = {};
    for (const cipher of ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305', 'AES128-SHA', 'AES256-GCM-SHA384', 'AES128-CCM8', 'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA384', 'DHE-RSA-AES128-GCM-SHA256']) {
      offered[cipher] = await negotiates(listener, cipher);
    }
    expect(offered).toEqual({
      'ECDHE-RSA-AES128-GCM-SHA256': true,
      'ECDHE-RSA-AES256-GCM-SHA384': true,
      'ECDHE-RSA-CHACHA20-POLY1305': true,
      'AES128-SHA': false,
      'AES256-GCM-SHA384': false,
      'AES128-CCM8': false,
      'ECDHE-RSA-AES128-SHA': false,
      'ECDHE-RSA-AES256-SHA384': false,
      'DHE-RSA-AES128-GCM-SHA256': false,
    });
  });

  it('refuses a renegotiation the client starts after STARTTLS, and the session does not go on', async () => {
    const { dialog, socket } = await secure('submission', { maxVersion: 'TLSv1.2' });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      socket.renegotiate({ rejectUnauthorized: true }, (error) => resolve(error ? (error as NodeJS.ErrnoException).code ?? error.message : 'renegotiated'));
    });
    expect(outcome).toMatch(/RENEGOTIATION|HANDSHAKE_FAILURE|ALERT/);
    await expect(dialog.command('NOOP')).rejects.toThrow(/connection closed/);
  });
});

describe('testssl.sh with a valid certificate', () => {
  const installed = (() => {
    try {
      execFileSync('sh', ['-c', 'command -v testssl || command -v testssl.sh'], { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  })();

  (installed ? it : it.skip)(
    'finds nothing MEDIUM or worse on the submission port (STARTTLS): protocols, ciphers, forward secrecy, preferences, certificate, vulnerabilities',
    async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'ca.pem'), certificate.ca);
      const command = execFileSync('sh', ['-c', 'command -v testssl || command -v testssl.sh']).toString().trim();
      const json = join(dir, 'testssl.json');
      // Asynchronously: the relay under test answers from this process's event loop.
      // testssl exits non-zero for findings too; the JSON file says what it found.
      await new Promise<void>((resolve, reject) => {
        const child = spawn(command, ['--quiet', '--color', '0', '--nodns', 'none', '--ip', '127.0.0.1', '--add-ca', join(dir, 'ca.pem'), '-p', '-s', '-f', '-P', '-S', '-U', '--jsonfile', json, '--starttls', 'smtp', `${HOSTNAME}:${t.port('submission')}`], { stdio: 'ignore', timeout: 240_000 });
        child.on('error', reject);
        child.on('close', () => resolve());
      });
      const findings = JSON.parse(readFileSync(json, 'utf8')) as Array<{ id: string; severity: string; finding: string }>;
      expect(findings.length).toBeGreaterThan(50);
      expect(findings.filter((finding) => ['MEDIUM', 'HIGH', 'CRITICAL'].includes(finding.severity))).toEqual([]);
      expect(findings.find((finding) => finding.id === 'secure_client_renego')?.finding).toMatch(/not vulnerable/);
    },
    300_000,
  );
});

describe('a client that breaks the TLS handshake', () => {
  it('is logged as one info line naming it, without a stack', async () => {
    const socket = netConnect({ host: '127.0.0.1', port: t.port('submissions') });
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET / HTTP/1.0\r\n\r\n');
    await t.waitForLog(/"listener":"submissions".*client connection error/);
    socket.destroy();
    const line = t.logs.find((entry) => entry.includes('client connection error') && entry.includes('"listener":"submissions"')) ?? '';
    expect(JSON.parse(line)).toMatchObject({ level: 30, listener: 'submissions', client: '127.0.0.1' });
    expect(line).not.toMatch(/stack/);
    expect(t.logs.filter((entry) => JSON.parse(entry).level >= 50)).toEqual([]);
  });
});

describe('MAIL FROM and RCPT TO parameters', () => {
  async function mxSession(): Promise<SmtpDialog> {
    const dialog = await SmtpDialog.open(t.port('mx'));
    await dialog.greet();
    return dialog;
  }

  it.each(['RET=HDRS', 'ENVID=abc', 'AUTH=<>', 'REQUIRETLS', 'X-UNKNOWN=1'])('of extensions not advertised on mx are refused 555 5.5.4: MAIL FROM %s', async (parameter) => {
    const dialog = await mxSession();
    expect((await dialog.command(`MAIL FROM:<a@outside.test> ${parameter}`)).lines[0]).toMatch(/^555 5\.5\.4 /);
    dialog.close();
  });

  it.each(['NOTIFY=NEVER', 'ORCPT=rfc822;x@example.test'])('of DSN are refused 555 5.5.4: RCPT TO %s', async (parameter) => {
    const dialog = await mxSession();
    expect((await dialog.command('MAIL FROM:<a@outside.test>')).code).toBe(250);
    expect((await dialog.command(`RCPT TO:<postmaster@example.test> ${parameter}`)).lines[0]).toMatch(/^555 5\.5\.4 /);
    expect((await dialog.command('RCPT TO:<postmaster@example.test>')).code).toBe(250);
    dialog.close();
  });

  it('of advertised extensions are accepted: SIZE, BODY, SMTPUTF8 on mx, AUTH= where AUTH is offered', async () => {
    const dialog = await mxSession();
    expect((await dialog.command('MAIL FROM:<a@outside.test> SIZE=100 BODY=8BITMIME SMTPUTF8')).code).toBe(250);
    dialog.close();
    const submission = await SmtpDialog.open(t.port('submissions'), { implicitTls: { ca: certificate.ca, servername: HOSTNAME } });
    await submission.greet();
    expect((await submission.command(`AUTH PLAIN ${Buffer.from(`\0app\0${PASSWORD}`).toString('base64')}`)).code).toBe(235);
    expect((await submission.command('MAIL FROM:<app@example.test> AUTH=<>')).code).toBe(250);
    submission.close();
  });
});
