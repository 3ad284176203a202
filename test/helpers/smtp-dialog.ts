/**
 * A raw SMTP client for tests that must control every byte (pipelining, smuggling, STARTTLS by
 * hand): the one SMTP reply reader of the tests. Replies are read whole (multi-line aware, a
 * reply ends at CRLF after its last line, "NNN text": RFC 5321 4.2.1).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

export interface Reply {
  code: number;
  lines: string[];
  text: string;
}

export class SmtpDialog {
  private buffer = '';
  private waiters: Array<() => void> = [];
  private ended = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((wake) => wake());
  }

  /** `localAddress`: the client's own loopback address (127.0.0.2 ...), to be a different host. */
  static async open(port: number, options: { host?: string; localAddress?: string; implicitTls?: { ca: string; servername: string } } = {}): Promise<SmtpDialog> {
    const host = options.host ?? '127.0.0.1';
    const local = options.localAddress ? { localAddress: options.localAddress } : {};
    const socket = options.implicitTls
      ? tlsConnect({ host, port, ...local, ca: options.implicitTls.ca, servername: options.implicitTls.servername })
      : netConnect({ host, port, ...local });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.implicitTls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new SmtpDialog(socket);
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Resolves once the server has closed the connection. */
  async whenClosed(): Promise<void> {
    while (!this.ended) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  get tlsSocket(): TLSSocket | undefined {
    return 'getPeerCertificate' in this.socket ? (this.socket as TLSSocket) : undefined;
  }

  /** Reads the next complete reply. */
  async read(): Promise<Reply> {
    for (;;) {
      const reply = this.takeReply();
      if (reply) return reply;
      if (this.ended) throw new Error(`connection closed; unread: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private takeReply(): Reply | undefined {
    const lines: string[] = [];
    let offset = 0;
    for (;;) {
      const end = this.buffer.indexOf('\r\n', offset);
      if (end < 0) return undefined;
      const line = this.buffer.slice(offset, end);
      lines.push(line);
      offset = end + 2;
      if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
        this.buffer = this.buffer.slice(offset);
        return { code: Number(line.slice(0, 3)), lines, text: lines.map((l) => l.slice(4)).join('\n') };
      }
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async command(line: string): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  async greet(): Promise<Reply> {
    await this.read();
    return this.command('EHLO client.test');
  }

  /** STARTTLS, verifying the certificate for `servername` against `ca` (undefined: accept any, to look at it). */
  async startTls(ca: string | undefined, servername: string, options: ConnectionOptions = {}): Promise<TLSSocket> {
    const reply = await this.command('STARTTLS');
    if (reply.code !== 220) throw new Error(`STARTTLS refused: ${reply.lines.join(' ')}`);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tlsConnect({ ...options, socket: plain, servername, ...(ca ? { ca } : { rejectUnauthorized: false }) });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return secure;
  }

  /** Sends a message body followed by the terminator, returns the reply to it. */
  async data(body: string | Buffer): Promise<Reply> {
    const go = await this.command('DATA');
    if (go.code !== 354) return go;
    this.write(body);
    this.write('\r\n.\r\n');
    return this.read();
  }

  close(): void {
    this.socket.destroy();
  }
}
