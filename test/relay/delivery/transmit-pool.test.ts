import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { dkimValue } from '../../../infra/builders/records';
import { dkimSignatureHeaders, dkimSigners, signersOfMessage, type DkimSigner } from '../../../relay/src/delivery/dkim';
import type { SmtpTarget } from '../../../relay/src/delivery/smtp-client';
import { TransmitPool } from '../../../relay/src/delivery/transmit-pool';
import type { TransmitJob } from '../../../relay/src/delivery/transmit';
import { startDnsServer, type TestDnsServer } from '../../helpers/dns-server';
import { startReceiver, type Receiver } from '../../helpers/receiver';
import { tempDir } from '../../helpers/relay';
import { transmitWorkerSource } from '../../helpers/transmit-worker';
import { dkimpyVerify } from './verify';

/**
 * Delivery's worker threads run the worker's own bundle (built here as scripts/build.mjs does).
 * The same jobs also run in place, which is what the in-process relay tests use.
 */
describe.each([
  ['on a worker thread', { workers: 1 }],
  ['in place (no worker)', { workers: 0 }],
])('an outbound transaction run %s', (_label, threading) => {
  let remote: Receiver;
  let dns: TestDnsServer;
  let pool: TransmitPool;
  let poolOptions: { workers: number; workerSource: string };
  let signers: DkimSigner[];
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

  beforeAll(async () => {
    remote = await startReceiver({ host: '127.0.0.2' });
    dns = await startDnsServer({ 'mx1._domainkey.example.test': { TXT: [dkimValue(keys.publicKey)] } });
    const { createPrivateKey } = await import('node:crypto');
    signers = dkimSigners({ dkim: [{ domain: 'example.test', selector: 'mx1', keyFile: 'unused' }] }, new Map([['example.test/mx1', createPrivateKey(keys.privateKey)]]));
    poolOptions = { ...threading, workerSource: await transmitWorkerSource() };
    pool = new TransmitPool({ logger: pino({ level: 'silent' }), ...poolOptions });
  });
  afterAll(async () => {
    await pool.close();
    await Promise.all([remote.close(), dns.close()]);
  });

  const target = (): SmtpTarget => ({ host: '127.0.0.2', port: remote.port, servername: 'mx.elsewhere.test', heloName: 'mail.example.test', tls: 'opportunistic' });
  // As delivery does (outgoing.ts): the main thread chooses the signers from the From, the job carries them.
  const signing = (signKey: string, message: Buffer) => ({ signKey, signers: signersOfMessage(message, signers, { utf8: false }) });
  const raw = (subject: string, body = 'Hello.\r\n') => Buffer.from(`From: App <app@example.test>\r\nTo: <someone@elsewhere.test>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.test>\r\n\r\n${body}`);

  it('delivers the message DKIM-signed, and python3-dkim verifies the signature', async () => {
    const before = remote.messages.length;
    const job: TransmitJob = { target: target(), mailFrom: 'app@example.test', recipients: ['someone@elsewhere.test'], message: { kind: 'bytes', bytes: raw('signed on the way') }, sign: signing('ID1', raw('signed on the way')) };
    const result = await pool.send(job);
    expect(result).toMatchObject({ kind: 'session', replies: new Map([['someone@elsewhere.test', expect.objectContaining({ code: 250 })]]) });
    const [received] = await remote.waitForMessages(before + 1).then((all) => all.slice(before));
    expect(received.raw.toString('latin1')).toMatch(/^DKIM-Signature: /);
    expect(await dkimpyVerify(received.raw, dns)).toBe('pass');
  });

  // The From reader decodes a display name's encoded words in any charset libmime knows; the
  // worker's bundle carries libmime's charset tables, so such a From is signed there as in place.
  it.each([
    ['ISO-2022-JP', '=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?='],
    ['windows-1251', '=?windows-1251?B?z/Do4uXy?='],
  ])('signs a message whose From display name is encoded in %s, and python3-dkim verifies it', async (charset, word) => {
    const before = remote.messages.length;
    const message = Buffer.from(`From: ${word} <app@example.test>\r\nTo: <someone@elsewhere.test>\r\nSubject: ${charset}\r\nMessage-ID: <${charset}@example.test>\r\n\r\nHello.\r\n`);
    const job: TransmitJob = { target: target(), mailFrom: 'app@example.test', recipients: ['someone@elsewhere.test'], message: { kind: 'bytes', bytes: message }, sign: signing(`ID-${charset}`, message) };
    const result = await pool.send(job);
    expect(result.kind).toBe('session');
    const [received] = await remote.waitForMessages(before + 1).then((all) => all.slice(before));
    expect(received.raw.toString('latin1').replace(/\r\n[ \t]+/g, ' ')).toMatch(/^DKIM-Signature: [^\r]*h=from:from:/);
    expect(await dkimpyVerify(received.raw, dns)).toBe('pass');
  });

  it('sends the signature header the in-process signer writes for the same message and time (over-signed From)', async () => {
    const before = remote.messages.length;
    const message = raw('same signature');
    const at = new Date();
    const expected = dkimSignatureHeaders(message, signers, { utf8: false }, at).toString('latin1');
    await pool.send({ target: target(), mailFrom: 'app@example.test', recipients: ['someone@elsewhere.test'], message: { kind: 'bytes', bytes: message }, sign: signing('ID-same', message) });
    const [received] = await remote.waitForMessages(before + 1).then((all) => all.slice(before));
    const sent = /^DKIM-Signature:[^]*?\r\n(?=\S)/.exec(received.raw.toString('latin1'))?.[0] ?? '';
    // Every tag equal but t= and b= (the worker read its own clock; the same second is not certain).
    const tags = (header: string) => Object.fromEntries(header.slice(header.indexOf(':') + 1).replace(/\s+/g, '').split(';').filter(Boolean).map((tag) => tag.split(/=(.*)/s).slice(0, 2)).filter(([name]) => name !== 't' && name !== 'b'));
    expect(tags(sent)).toEqual(tags(expected));
    expect(expected.replace(/\s+/g, '')).toMatch(/h=from:from:/);
  });

  it('signs a message once for all its destination groups, and each group gets the same signature', async () => {
    const before = remote.messages.length;
    const message = raw('two groups');
    const job = (to: string): TransmitJob => ({ target: target(), mailFrom: 'app@example.test', recipients: [to], message: { kind: 'bytes', bytes: message }, sign: signing('ID2', message) });
    await Promise.all([pool.send(job('one@elsewhere.test')), pool.send(job('two@elsewhere.test'))]);
    const received = (await remote.waitForMessages(before + 2)).slice(before);
    const signature = (mail: { raw: Buffer }) => /^DKIM-Signature:[^]*?\r\n(?=\S)/.exec(mail.raw.toString('latin1'))?.[0];
    expect(signature(received[0])).toBeDefined();
    expect(signature(received[0])).toBe(signature(received[1]));
  });

  it('reads a spooled message from its file, after the envelope line, and sends it unchanged when not signing', async () => {
    const before = remote.messages.length;
    const path = join(tempDir(), 'message.msg');
    const body = raw('from the spool file', `${'line of a larger message\r\n'.repeat(20_000)}`);
    writeFileSync(path, Buffer.concat([Buffer.from('{"id":"envelope line"}\n'), body]));
    const result = await pool.send({ target: target(), mailFrom: '', recipients: ['someone@elsewhere.test'], message: { kind: 'file', path, offset: '{"id":"envelope line"}\n'.length } });
    expect(result.kind).toBe('session');
    const [received] = (await remote.waitForMessages(before + 1)).slice(before);
    expect(received.raw.equals(body)).toBe(true);
  });

  it('answers "unsigned" instead of sending when a message from our domain cannot be signed', async () => {
    // An X25519 key cannot sign at all: every signature with it fails.
    const unusable = generateKeyPairSync('x25519').privateKey;
    const broken: DkimSigner = { domain: 'example.test', selector: 'mx1', privateKey: 'not a key', key: unusable, algorithm: 'rsa-sha256' };
    const before = remote.transactions;
    const result = await pool.send({ target: target(), mailFrom: 'app@example.test', recipients: ['someone@elsewhere.test'], message: { kind: 'bytes', bytes: raw('no key') }, sign: { signKey: 'ID3', signers: [broken] } });
    expect(result.kind).toBe('unsigned');
    expect(remote.transactions).toBe(before);
  });

  it('reports a target that refuses connections as unreachable', async () => {
    const result = await pool.send({ target: { ...target(), port: 9 }, mailFrom: '', recipients: ['someone@elsewhere.test'], message: { kind: 'bytes', bytes: raw('nobody home') } });
    expect(result).toMatchObject({ kind: 'unreachable', failure: 'connection' });
  });
});

describe('a delivery worker that dies', () => {
  it('fails the jobs it held, and the next job gets a new worker', async () => {
    const remote = await startReceiver({ host: '127.0.0.2' });
    // A destination that accepts the connection and never greets: the job stays in the worker.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.2', resolve));
    const pool = new TransmitPool({ logger: pino({ level: 'silent' }), workers: 1, workerSource: await transmitWorkerSource() });
    try {
      const job = (port: number): TransmitJob => ({ target: { host: '127.0.0.2', port, servername: 'mx.elsewhere.test', heloName: 'mail.example.test', tls: 'opportunistic' }, mailFrom: '', recipients: ['a@elsewhere.test'], message: { kind: 'bytes', bytes: Buffer.from('Subject: x\r\n\r\nx\r\n') } });
      expect((await pool.send(job(remote.port))).kind).toBe('session');
      const held = pool.send(job((silent.address() as AddressInfo).port));
      // The test ends the worker the way a crash in it would.
      const workers = (pool as unknown as { workers: Array<{ worker: { terminate(): Promise<number> } } | undefined> }).workers;
      await workers[0]?.worker.terminate();
      await expect(held).rejects.toThrow(/exited/);
      expect((await pool.send(job(remote.port))).kind).toBe('session');
    } finally {
      await pool.close();
      await remote.close();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
