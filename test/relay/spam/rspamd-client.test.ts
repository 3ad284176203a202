import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { Readable } from 'node:stream';
import { RspamdClient, RspamdError, type RspamdRequest } from '../../../relay/src/spam/rspamd-client';
import { GTUBE, GTUBE_ADD_HEADER, GTUBE_REWRITE_SUBJECT, startTestRspamd, TEST_FLAG_SCORE, type TestRspamd } from '../../helpers/rspamd';

const message = (body: string, subject = 'hello') =>
  Buffer.from(['From: Alice <alice@sender.test>', 'To: <bob@example.test>', `Subject: ${subject}`, `Date: ${new Date().toUTCString()}`, 'Message-ID: <m1@sender.test>', '', body, ''].join('\r\n'));

const request = (body: RspamdRequest['body']): RspamdRequest => ({
  body,
  clientAddress: '::ffff:127.0.0.2',
  helo: 'mta.sender.test',
  mailFrom: 'alice@sender.test',
  rcptTo: ['bob@example.test', 'carol@example.test'],
  queueId: 'Q1',
  mtaName: 'mail.example.test',
});

describe('rspamd client against the real engine', () => {
  let rspamd: TestRspamd;
  let client: RspamdClient;
  beforeAll(async () => {
    rspamd = await startTestRspamd();
    client = new RspamdClient(rspamd.url, 10_000);
  });
  afterAll(() => rspamd.close());

  it('gets "reject" with rspamd\'s SMTP text for GTUBE', async () => {
    const result = await client.check(request(message(`This is spam.\r\n${GTUBE}`)));
    expect(result.action).toBe('reject');
    expect(result.smtpMessage).toBe('Gtube pattern');
    expect(result.symbols.map((symbol) => symbol.name)).toContain('GTUBE');
  });

  it('gets "add header" at the flag score for the add-header test pattern', async () => {
    const result = await client.check(request(message(GTUBE_ADD_HEADER)));
    expect(result.action).toBe('add header');
    expect(result.score).toBe(TEST_FLAG_SCORE);
  });

  it('gets the tagged Subject rspamd wants for the rewrite-subject pattern', async () => {
    const result = await client.check(request(message(GTUBE_REWRITE_SUBJECT, 'quarterly report')));
    expect(result.action).toBe('rewrite subject');
    expect(result.subject).toBe('*** SPAM *** quarterly report');
  });

  it('scores an ordinary message below the flag score, streamed from a source rather than a buffer', async () => {
    const raw = message('Hi Bob,\r\n\r\nthe minutes of Tuesday are attached as promised.\r\n\r\nAlice');
    const result = await client.check(request({ size: raw.length, open: () => Readable.from([raw.subarray(0, 10), raw.subarray(10)]) }));
    expect(result.action).toBe('no action');
    expect(result.score).toBeLessThan(TEST_FLAG_SCORE);
    expect(result.symbols.length).toBeGreaterThan(0);
  });
});

describe('rspamd client failures', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function httpServer(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const reason = (promise: Promise<unknown>) => promise.then(() => 'no error', (error: unknown) => (error instanceof RspamdError ? error.reason : String(error)));

  it('says "unavailable" when nothing listens', async () => {
    const closed = await httpServer(() => undefined);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    expect(await reason(new RspamdClient(closed, 2000).check(request(message('x'))))).toBe('unavailable');
  });

  it('says "timeout" when rspamd accepts but never answers, within the time limit', async () => {
    const sockets: Socket[] = [];
    const tcp = createTcpServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', () => resolve()));
    try {
      const client = new RspamdClient(`http://127.0.0.1:${(tcp.address() as AddressInfo).port}`, 300);
      expect(await reason(client.check(request(message('x'))))).toBe('timeout');
    } finally {
      sockets.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  });

  it('says "http_status" for an error page and "bad_reply" for a body that is not a scan result', async () => {
    const url = await httpServer((incoming, response) => {
      incoming.resume();
      if (incoming.url === '/checkv2' && incoming.headers['queue-id'] === 'Q1') response.writeHead(500).end('oops');
      else response.writeHead(200).end('{"hello":1}');
    });
    expect(await reason(new RspamdClient(url, 2000).check(request(message('x'))))).toBe('http_status');
    expect(await reason(new RspamdClient(url, 2000).check({ ...request(message('x')), queueId: 'Q2' }))).toBe('bad_reply');
  });

  it('refuses a reply over 1 MiB instead of reading it all', async () => {
    const url = await httpServer((incoming, response) => {
      incoming.resume();
      response.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      for (let index = 0; index < 40; index++) response.write(chunk);
      response.end();
    });
    expect(await reason(new RspamdClient(url, 5000).check(request(message('x'))))).toBe('bad_reply');
  });

  it('sends the SMTP context as rspamd headers, with one Rcpt per recipient and a plain IPv4 address', async () => {
    let seen: Record<string, string | string[] | undefined> = {};
    let body = '';
    const url = await httpServer((incoming, response) => {
      seen = incoming.headers;
      incoming.setEncoding('latin1');
      incoming.on('data', (chunk: string) => (body += chunk));
      incoming.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{"action":"no action","score":0.5,"symbols":{}}'));
    });
    const raw = message('context');
    const result = await new RspamdClient(url, 2000).check({ ...request(raw), user: 'app', helo: 'bad\r\nInjected: yes' });
    expect(result).toEqual({ action: 'no action', score: 0.5, symbols: [] });
    expect(seen.ip).toBe('127.0.0.2');
    expect(seen.helo).toBe('bad??Injected: yes');
    expect(seen.from).toBe('alice@sender.test');
    expect(seen.rcpt).toBe('bob@example.test, carol@example.test');
    expect(seen.user).toBe('app');
    expect(seen['mta-name']).toBe('mail.example.test');
    expect(body).toBe(raw.toString('latin1'));
  });
});
