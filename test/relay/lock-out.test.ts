/**
 * No lock-out (issue 13 point 5): the attacks of the issue, scaled to this machine, each run
 * against a live relay while a legitimate user submits a message on 587 and on 465. The relay
 * must keep those submissions under 2 s and must end the attackers' sessions on its own deadlines.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import nodemailer from 'nodemailer';
import { HOSTNAME, PASSWORD, startTestRelay, type TestRelay } from '../helpers/relay';

let t: TestRelay;
beforeAll(async () => {
  t = await startTestRelay(
    (config) => {
      config.limits = {
        maxMessageBytes: 64 * 1024,
        maxConnections: 120,
        reservedConnections: 20,
        maxConnectionsPerIp: 10,
        idleTimeout: '3s',
        tlsHandshakeTimeout: '1s',
        sessionTimeout: '6s',
        authFailuresPerIp: 4,
        authFailuresPerAccount: 10,
        authFailuresTotal: 30,
      };
    },
    { authFailureDelayMs: 50 },
  );
  // The user has logged in before (as a real client does every few minutes).
  await submitLegitimately('submission');
});
afterAll(() => t.stop());

/** One message from the real user; resolves with how long it took, connect to 250. */
async function submitLegitimately(listener: 'submission' | 'submissions'): Promise<number> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: t.port(listener),
    secure: listener === 'submissions',
    requireTLS: listener === 'submission',
    auth: { user: 'app', pass: PASSWORD },
    tls: { ca: t.certificate.cert, servername: HOSTNAME },
  });
  const started = Date.now();
  try {
    const info = await transport.sendMail({ envelope: { from: 'app@example.test', to: ['friend@elsewhere.test'] }, raw: 'From: app@example.test\r\nSubject: still here\r\n\r\nhi\r\n' });
    expect(info.response).toMatch(/^250 /);
  } finally {
    transport.close();
  }
  return Date.now() - started;
}

function openRaw(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    socket.setEncoding('latin1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with everything the server wrote once it closes the connection. */
function closedByServer(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(text));
  });
}

async function refusals(listener: string): Promise<number> {
  const metric = await t.relay.metrics.rejected.get();
  return metric.values.find((value) => value.labels.listener === listener && value.labels.reason === 'too_many_connections')?.value ?? 0;
}

const addresses = (from: number, count: number, base = '127.0.0') => Array.from({ length: count }, (_, index) => `${base}.${from + index}`);

describe('under a trickling flood on port 25', () => {
  it('keeps 587 and 465 answering, and ends the trickling sessions on a deadline the trickle does not reset', async () => {
    const sockets: Socket[] = [];
    const timers: NodeJS.Timeout[] = [];
    try {
      // 8 addresses x 10 connections: all of mx's share (120 - 2 x 20 reserved for 587/465).
      for (const address of addresses(10, 8)) for (let index = 0; index < 10; index++) sockets.push(await openRaw(t.port('mx'), address));
      const endings = sockets.map((socket) => closedByServer(socket));
      const started = Date.now();
      // One byte every 400 ms of a command line that would take 8 s: never a whole command.
      for (const socket of sockets) {
        let sent = 0;
        const line = 'EHLO trickle.test\r\n';
        const timer = setInterval(() => socket.write(line[sent++ % line.length]), 400);
        timers.push(timer);
      }
      const refused = closedByServer(await openRaw(t.port('mx'), '127.0.0.30'));
      expect(await refused).toMatch(/^421 4\.3\.2 /);

      expect(await submitLegitimately('submission')).toBeLessThan(2000);
      expect(await submitLegitimately('submissions')).toBeLessThan(2000);

      const written = await Promise.all(endings);
      const elapsed = Date.now() - started;
      expect(written.every((text) => /421 4\.4\.2 Timeout, closing connection/.test(text))).toBe(true);
      // idleTimeout is 3 s (and the flood put mx under stress, where it is at most 10 s).
      expect(elapsed).toBeLessThan(8000);
    } finally {
      timers.forEach(clearInterval);
      sockets.forEach((socket) => socket.destroy());
      await t.waitForNoSessions();
    }
  });
});

describe('under silent connections to port 465', () => {
  it('counts them against the address before any TLS handshake and closes them after the handshake deadline', async () => {
    const sockets: Socket[] = [];
    try {
      for (const address of addresses(40, 4)) for (let index = 0; index < 10; index++) sockets.push(await openRaw(t.port('submissions'), address));
      const endings = sockets.map((socket) => closedByServer(socket));
      const started = Date.now();
      // An eleventh from the same address is refused: the ten were counted before any handshake.
      const refusedBefore = await refusals('submissions');
      await closedByServer(await openRaw(t.port('submissions'), '127.0.0.40'));
      expect(await refusals('submissions')).toBe(refusedBefore + 1);

      expect(await submitLegitimately('submission')).toBeLessThan(2000);
      expect(await submitLegitimately('submissions')).toBeLessThan(2000);

      await Promise.all(endings);
      expect(Date.now() - started).toBeLessThan(3000); // tlsHandshakeTimeout is 1 s
    } finally {
      sockets.forEach((socket) => socket.destroy());
      await t.waitForNoSessions();
    }
  });
});

describe('a slow client', () => {
  it('sending its message a byte at a time is cut off at the minimum data rate, and nothing is stored', async () => {
    const stored = await t.relay.spool.count();
    const socket = await openRaw(t.port('mx'), '127.0.0.50');
    const ending = closedByServer(socket);
    await new Promise((resolve) => socket.once('data', resolve)); // the greeting (port 25 punishes early talkers)
    socket.write('EHLO slow.test\r\nMAIL FROM:<a@outside.test>\r\nRCPT TO:<postmaster@example.test>\r\nDATA\r\n');
    const timer = setInterval(() => socket.write('x'), 200);
    try {
      expect(await ending).toMatch(/354 [^]*421 4\.4\.2 Message arriving too slowly/);
    } finally {
      clearInterval(timer);
    }
    await t.waitForLog(/client disconnected during DATA/);
    expect(await t.relay.spool.count()).toBe(stored);
    expect(readdirSync(join(t.dir, 'spool', 'tmp'))).toEqual([]);
  });

  it('that keeps a session alive with NOOPs is closed at the session deadline', async () => {
    const socket = await openRaw(t.port('mx'), '127.0.0.51');
    const ending = closedByServer(socket);
    await new Promise((resolve) => socket.once('data', resolve));
    const started = Date.now();
    const timer = setInterval(() => socket.write('NOOP\r\n'), 1000);
    try {
      expect(await ending).toMatch(/421 4\.4\.2 Session time limit reached/);
    } finally {
      clearInterval(timer);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(5000); // sessionTimeout is 6 s
  });
});

/**
 * The guessers run in a process of their own, as attackers do on their own machines: their TLS
 * handshakes and their waiting must not be counted against the relay's event loop.
 */
const STORM = String.raw`
const tls = require('node:tls');
const [port, ca, servername, addresses] = [Number(process.argv[1]), process.argv[2], process.argv[3], JSON.parse(process.argv[4])];
function guess(localAddress, attempt) {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, localAddress, ca, servername });
    let buffer = '';
    let step = 0;
    const user = attempt % 2 === 0 ? 'app' : 'user' + attempt;
    const done = (code) => { socket.destroy(); resolve(code); };
    socket.setEncoding('latin1');
    socket.on('error', () => done(0));
    socket.on('close', () => done(0));
    socket.on('data', (chunk) => {
      buffer += chunk;
      const match = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(buffer);
      if (!match) return;
      buffer = '';
      if (step === 0) socket.write('EHLO guesser.test\r\n');
      else if (step === 1) socket.write('AUTH PLAIN ' + Buffer.from('\0' + user + '\0wrong-' + attempt).toString('base64') + '\r\n');
      else return done(Number(match[1]));
      step++;
    });
  });
}
// Every address at once; each address guesses four times in a row, a new connection each time.
Promise.all(addresses.map(async (address) => {
  const codes = [];
  for (let attempt = 0; attempt < 4; attempt++) codes.push(await guess(address, attempt));
  return codes;
})).then((codes) => console.log(JSON.stringify(codes.flat())));
`;

function storm(addressList: string[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', STORM, String(t.port('submissions')), t.certificate.cert, HOSTNAME, JSON.stringify(addressList)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(JSON.parse(out) as number[]));
  });
}

describe('under a password-guessing storm from many addresses', () => {
  it('keeps the real user fast, stops checking passwords for the guessed account and for strangers, and counts it', async () => {
    // 40 addresses x 4 guesses, half of them at the real user's account.
    const guesses = storm(addresses(1, 40, '127.0.1'));
    await t.waitForLog(/AUTH (failed|refused)/);

    expect(await submitLegitimately('submission')).toBeLessThan(2000);
    expect(await submitLegitimately('submissions')).toBeLessThan(2000);
    const codes = await guesses;
    expect(codes).toHaveLength(160);
    expect(codes.filter((code) => code === 235)).toEqual([]);
    // Once the global and per-account throttles are past their limits, guesses get 454 without a check.
    expect(codes.filter((code) => code === 454).length).toBeGreaterThan(codes.length / 2);
    const throttled = await t.relay.metrics.authThrottled.get();
    const reasons = throttled.values.filter((value) => value.value > 0).map((value) => value.labels.reason);
    expect(reasons).toEqual(expect.arrayContaining(['per_account', 'total']));
    // The real user, known from its address, still logs in.
    expect(await submitLegitimately('submissions')).toBeLessThan(2000);
  });
});
