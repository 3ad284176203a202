import { connect as tlsConnect } from 'node:tls';
import { SmtpDialog } from '../helpers/smtp-dialog';
import { HOSTNAME, PASSWORD, startTestRelay, type TestRelay } from '../helpers/relay';

let t: TestRelay;
beforeAll(async () => {
  t = await startTestRelay();
});
afterAll(() => t.stop());

const plain = (credentials: string) => Buffer.from(`\0${credentials}\0${PASSWORD}`).toString('base64');

describe('the mx listener', () => {
  it('advertises STARTTLS, SIZE, SMTPUTF8, 8BITMIME, PIPELINING and ENHANCEDSTATUSCODES but never AUTH', async () => {
    const dialog = await SmtpDialog.open(t.port('mx'));
    const banner = await dialog.read();
    expect(banner.code).toBe(220);
    expect(banner.text).toContain(HOSTNAME);
    const ehlo = await dialog.command('EHLO client.test');
    const features = ehlo.lines.map((line) => line.slice(4));
    expect(features).toEqual(expect.arrayContaining(['STARTTLS', 'SIZE 65536', 'SMTPUTF8', '8BITMIME', 'PIPELINING', 'ENHANCEDSTATUSCODES']));
    expect(features.some((feature) => feature.startsWith('AUTH'))).toBe(false);
    await dialog.startTls(t.certificate.cert, HOSTNAME);
    const afterTls = await dialog.command('EHLO client.test');
    expect(afterTls.lines.some((line) => line.includes('AUTH'))).toBe(false);
    expect((await dialog.command('AUTH PLAIN ' + plain('app'))).code).toBeGreaterThanOrEqual(500);
    dialog.close();
  });
});

describe('the submission listener', () => {
  it('offers AUTH only after STARTTLS and answers MAIL before AUTH with 530 5.7.0', async () => {
    const dialog = await SmtpDialog.open(t.port('submission'));
    const ehlo = await dialog.greet();
    expect(ehlo.lines.some((line) => line.includes('AUTH'))).toBe(false);
    expect(ehlo.lines.some((line) => line.includes('STARTTLS'))).toBe(true);
    const mail = await dialog.command('MAIL FROM:<app@example.test>');
    expect(mail.lines[0]).toMatch(/^530 5\.7\.0 /);
    await dialog.startTls(t.certificate.cert, HOSTNAME);
    const secured = await dialog.command('EHLO client.test');
    expect(secured.lines.map((line) => line.slice(4))).toContain('AUTH PLAIN LOGIN');
    expect((await dialog.command('MAIL FROM:<app@example.test>')).lines[0]).toMatch(/^530 5\.7\.0 /);
    expect((await dialog.command(`AUTH PLAIN ${plain('app')}`)).code).toBe(235);
    expect((await dialog.command('MAIL FROM:<app@example.test>')).lines[0]).toMatch(/^250 2\.1\.0/);
    dialog.close();
  });

  it('refuses AUTH on the plaintext channel before STARTTLS', async () => {
    const dialog = await SmtpDialog.open(t.port('submission'));
    await dialog.greet();
    const auth = await dialog.command(`AUTH PLAIN ${plain('app')}`);
    expect(auth.code).toBeGreaterThanOrEqual(500);
    dialog.close();
  });
});

describe('the submissions listener', () => {
  it('speaks TLS from the first byte and offers AUTH at once', async () => {
    const dialog = await SmtpDialog.open(t.port('submissions'), { implicitTls: { ca: t.certificate.cert, servername: HOSTNAME } });
    const ehlo = await dialog.greet();
    expect(ehlo.lines.map((line) => line.slice(4))).toContain('AUTH PLAIN LOGIN');
    expect(ehlo.lines.some((line) => line.includes('STARTTLS'))).toBe(false);
    dialog.close();
  });

  it('refuses a client that only speaks TLS 1.1', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: t.port('submissions'), ca: t.certificate.cert, servername: HOSTNAME, maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('secureConnect', () => resolve('connected'));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    socket.destroy();
    // The server's alert names the reason: the protocol version, not a cipher or certificate problem.
    expect(outcome).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it('negotiates TLS 1.2 or newer', async () => {
    const dialog = await SmtpDialog.open(t.port('submissions'), { implicitTls: { ca: t.certificate.cert, servername: HOSTNAME } });
    expect(['TLSv1.2', 'TLSv1.3']).toContain(dialog.tlsSocket?.getProtocol());
    dialog.close();
  });
});
