/**
 * A receiving MTA for delivery tests: smtp-server on 127.0.0.2 / 127.0.0.3 (never the relay's
 * 127.0.0.1), port 0 or a given port, STARTTLS with a test certificate, optional AUTH (smarthost),
 * and scripted replies: `dataReplies: [451, 451]` answers the first two transactions 451 and the
 * rest 250; `rcptReply` can refuse single recipients.
 */
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { makeCertificate, type TestCertificate } from './tls';

export interface ReceivedMail {
  mailFrom: string;
  rcptTo: string[];
  raw: Buffer;
  secure: boolean;
  remoteAddress: string;
  user?: string;
}

export interface ReceiverOptions {
  host?: string;
  port?: number;
  /** Certificate name (also the MX name tests publish). */
  hostname?: string;
  certificate?: TestCertificate;
  tls?: boolean;
  /** Implicit TLS (port 465 style). */
  secure?: boolean;
  auth?: { user: string; pass: string };
  /** Replies to successive DATA transactions; 250 once exhausted. */
  dataReplies?: number[];
  /** A reply code for RCPT TO of this address (undefined: accept). */
  rcptReply?: (address: string) => number | undefined;
  /** Judges a whole message at the end of DATA: a reply refuses it (undefined: accept). */
  judge?: (raw: Buffer, envelope: { mailFrom: string; rcptTo: string[] }) => { code: number; text: string } | undefined;
  /** Awaited before the reply to each DATA (a slow receiver). */
  beforeDataReply?: () => Promise<void>;
}

export interface Receiver {
  host: string;
  port: number;
  certificate: TestCertificate;
  messages: ReceivedMail[];
  /** DATA transactions seen, including refused ones. */
  transactions: number;
  /** Resolves once `count` messages have been accepted. */
  waitForMessages(count: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

const TEXT: Record<number, string> = { 421: '4.3.2 Closing', 450: '4.2.1 Try later', 451: '4.3.0 Try again later', 452: '4.2.2 Full', 550: '5.1.1 No such user here', 552: '5.3.4 Too big', 554: '5.7.1 Refused' };

export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const host = options.host ?? '127.0.0.2';
  const hostname = options.hostname ?? 'mx.elsewhere.test';
  const certificate = options.certificate ?? (await makeCertificate(hostname));
  const dataReplies = [...(options.dataReplies ?? [])];
  const messages: ReceivedMail[] = [];
  const waiters: Array<{ count: number; resolve: (mail: ReceivedMail[]) => void }> = [];
  let transactions = 0;
  const notify = () => {
    for (const waiter of [...waiters]) {
      if (messages.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(messages.slice());
      }
    }
  };
  const reply = (code: number) => Object.assign(new Error(TEXT[code] ?? `${String(code)[0]}.0.0 Scripted reply`), { responseCode: code });
  const server = new SMTPServer({
    name: hostname,
    secure: options.secure === true,
    key: certificate.key,
    cert: certificate.cert,
    hideSTARTTLS: options.tls === false,
    authOptional: options.auth === undefined,
    disabledCommands: options.auth ? [] : ['AUTH'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) return callback(null, { user: auth.username });
      callback(Object.assign(new Error('5.7.8 Authentication failed'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      const code = options.rcptReply?.(address.address);
      callback(code ? reply(code) : undefined);
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        await options.beforeDataReply?.();
        transactions++;
        const code = dataReplies.shift();
        if (code !== undefined && code !== 250) return callback(reply(code));
        const raw = Buffer.concat(chunks);
        const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const rcptTo = session.envelope.rcptTo.map((rcpt) => rcpt.address);
        const verdict = options.judge?.(raw, { mailFrom, rcptTo });
        if (verdict) return callback(Object.assign(new Error(verdict.text), { responseCode: verdict.code }));
        messages.push({
          mailFrom,
          rcptTo,
          raw,
          secure: session.secure,
          remoteAddress: session.remoteAddress,
          ...(typeof session.user === 'string' ? { user: session.user } : {}),
        });
        callback(null, 'Ok: delivered');
        notify();
      });
    },
  });
  server.on('error', () => undefined);
  const port = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      const address = server.server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  return {
    host,
    port,
    certificate,
    messages,
    get transactions() {
      return transactions;
    },
    waitForMessages: (count) =>
      new Promise((resolve) => {
        waiters.push({ count, resolve });
        notify();
      }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
