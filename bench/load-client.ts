/**
 * A small SMTP load client that times each transaction (connect -> 250 after DATA), one message
 * per connection like smtp-source, so both systems see the same shape of load.
 */
import { connect, type Socket } from 'node:net';

export interface LoadOptions {
  host: string;
  port: number;
  messages: number;
  concurrency: number;
  messageBytes: number;
  from: string;
  to: string;
  /** Recipients of message `index` (default: just `to`). */
  recipients?: (index: number) => string[];
}

export interface LoadResult {
  latenciesMs: number[];
  failures: number;
  elapsedMs: number;
}

function session(socket: Socket): { next(): Promise<string>; send(text: string): void } {
  let buffer = '';
  let waiting: ((reply: string) => void) | undefined;
  const pump = () => {
    const match = /(^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(buffer);
    if (match && waiting) {
      const end = match.index + match[0].length;
      const reply = buffer.slice(0, end);
      buffer = buffer.slice(end);
      const resolve = waiting;
      waiting = undefined;
      resolve(reply.slice(reply.lastIndexOf(match[2] + ' ')));
    }
  };
  socket.setEncoding('latin1');
  socket.on('data', (text: string) => {
    buffer += text;
    pump();
  });
  socket.on('close', () => waiting?.('closed'));
  return {
    next: () =>
      new Promise<string>((resolve) => {
        waiting = resolve;
        pump();
      }),
    send: (text) => socket.write(text),
  };
}

async function oneMessage(options: LoadOptions, index: number, text: string): Promise<number | undefined> {
  const recipients = options.recipients?.(index) ?? [options.to];
  // A Message-ID per message, so a destination can tell a repeat from another message.
  const body = `Message-ID: <bench.${process.pid}.${index}@${options.from.slice(options.from.indexOf('@') + 1)}>\r\n${text}`;
  const started = process.hrtime.bigint();
  const socket = connect({ host: options.host, port: options.port });
  socket.on('error', () => undefined);
  const smtp = session(socket);
  try {
    if (!(await smtp.next()).startsWith('220')) return undefined;
    smtp.send('EHLO load.bench.test\r\n');
    if (!(await smtp.next()).startsWith('250')) return undefined;
    smtp.send(`MAIL FROM:<${options.from}>\r\n`);
    if (!(await smtp.next()).startsWith('250')) return undefined;
    for (const recipient of recipients) {
      smtp.send(`RCPT TO:<${recipient}>\r\n`);
      if (!(await smtp.next()).startsWith('250')) return undefined;
    }
    smtp.send('DATA\r\n');
    if (!(await smtp.next()).startsWith('354')) return undefined;
    smtp.send(body);
    const done = await smtp.next();
    if (!done.startsWith('250')) return undefined;
    return Number(process.hrtime.bigint() - started) / 1e6;
  } finally {
    socket.end('QUIT\r\n');
  }
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const line = 'x'.repeat(78) + '\r\n';
  const body = `From: <${options.from}>\r\nTo: <${options.to}>\r\nSubject: bench\r\n\r\n${line.repeat(Math.max(1, Math.floor(options.messageBytes / line.length)))}.\r\n`;
  const latenciesMs: number[] = [];
  let failures = 0;
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < options.messages) {
      const index = next++;
      const latency = await oneMessage(options, index, body);
      if (latency === undefined) failures += 1;
      else latenciesMs.push(latency);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return { latenciesMs, failures, elapsedMs: Date.now() - started };
}

/** Opens `count` sessions that each get their banner and then sit idle; returns a closer. */
export async function openIdleSessions(host: string, port: number, count: number): Promise<() => void> {
  const sockets: Socket[] = [];
  const batch = 100;
  for (let opened = 0; opened < count; opened += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, count - opened) }, async () => {
        const socket = connect({ host, port });
        socket.on('error', () => undefined);
        sockets.push(socket);
        const smtp = session(socket);
        await smtp.next();
        smtp.send('EHLO idle.bench.test\r\n');
        await smtp.next();
      }),
    );
  }
  return () => sockets.forEach((socket) => socket.destroy());
}

export { percentile } from './stats';
