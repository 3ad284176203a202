/**
 * A minimal SMTP client for the service checks: banner, EHLO, STARTTLS, MAIL/RCPT, QUIT. It never
 * sends DATA, so no check ever delivers a message. TLS is negotiated without rejecting a bad
 * certificate so the certificate check can say what is wrong with it instead of just failing.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { trustedCas } from './trust';

export interface SmtpReply {
  code: number;
  text: string;
}

export interface TlsFacts {
  /** Chain trusted and name matches the host. */
  authorized: boolean;
  /** OpenSSL's reason when not authorized, e.g. CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID. */
  authorizationError?: string;
  protocol: string;
  certificate: PeerCertificate;
}

export interface ProbeTarget {
  address: string;
  port: number;
  /** The name the certificate must be valid for (SNI and verification). */
  servername: string;
  ca?: string;
  timeoutMs: number;
}

export class SmtpProbe {
  private buffer = '';
  private waiter: (() => void) | undefined;
  private closedWith: Error | undefined;

  private constructor(
    private socket: Socket | TLSSocket,
    private readonly target: ProbeTarget,
  ) {
    this.attach(socket);
  }

  /** Plain TCP connection (port 25, 587). Rejects on refusal or timeout. */
  static async connect(target: ProbeTarget): Promise<SmtpProbe> {
    const socket = netConnect({ host: target.address, port: target.port });
    await settle(socket, 'connect', target.timeoutMs);
    return new SmtpProbe(socket, target);
  }

  /** Implicit TLS (port 465, RFC 8314 §3.3). */
  static async connectTls(target: ProbeTarget): Promise<{ probe: SmtpProbe; tls: TlsFacts }> {
    const socket = tlsConnect({ host: target.address, port: target.port, ...tlsOptions(target) });
    await settle(socket, 'secureConnect', target.timeoutMs);
    return { probe: new SmtpProbe(socket, target), tls: tlsFacts(socket) };
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.setEncoding('latin1');
    socket.setTimeout(this.target.timeoutMs, () => socket.destroy(new Error('timed out waiting for the server')));
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake();
    });
    socket.on('error', (error) => {
      this.closedWith = error;
      this.wake();
    });
    socket.on('close', () => {
      this.closedWith ??= new Error('connection closed by the server');
      this.wake();
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** The next complete (possibly multi-line) reply. */
  async read(): Promise<SmtpReply> {
    for (;;) {
      const match = /^(?:\d{3}-.*\r\n)*(\d{3})(?: .*)?\r\n/.exec(this.buffer);
      if (match) {
        this.buffer = this.buffer.slice(match[0].length);
        const lines = match[0].split('\r\n').filter(Boolean);
        return { code: Number(match[1]), text: lines.map((line) => line.slice(4)).join('\n') };
      }
      if (this.closedWith) throw this.closedWith;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  async command(line: string): Promise<SmtpReply> {
    this.socket.write(`${line}\r\n`);
    return this.read();
  }

  /** EHLO as the checking host; returns the extension keywords (upper case). */
  async ehlo(name: string): Promise<{ reply: SmtpReply; extensions: Set<string> }> {
    const reply = await this.command(`EHLO ${name}`);
    const extensions = new Set(reply.text.split('\n').slice(1).map((line) => line.split(' ')[0].toUpperCase()));
    return { reply, extensions };
  }

  /** STARTTLS (RFC 3207) and the TLS facts of the upgraded connection. */
  async startTls(): Promise<TlsFacts> {
    const reply = await this.command('STARTTLS');
    if (reply.code !== 220) throw new Error(`STARTTLS refused: ${reply.code} ${reply.text}`);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('timeout');
    const secure = tlsConnect({ socket: plain, ...tlsOptions(this.target) });
    await settle(secure, 'secureConnect', this.target.timeoutMs);
    this.socket = secure;
    this.buffer = '';
    this.attach(secure);
    return tlsFacts(secure);
  }

  /** Polite end; a server that already hung up is fine. */
  async quit(): Promise<void> {
    try {
      if (!this.closedWith) await this.command('QUIT');
    } catch {
      // already gone
    } finally {
      this.socket.destroy();
    }
  }
}

function tlsOptions(target: ProbeTarget) {
  return { servername: target.servername, ca: trustedCas(target.ca), rejectUnauthorized: false };
}

function tlsFacts(socket: TLSSocket): TlsFacts {
  const error = socket.authorizationError as Error | string | null;
  return {
    authorized: socket.authorized,
    authorizationError: error === null ? undefined : typeof error === 'string' ? error : ((error as NodeJS.ErrnoException).code ?? error.message),
    protocol: socket.getProtocol() ?? 'unknown',
    certificate: socket.getPeerCertificate(),
  };
}

/** Resolves on `event`, rejects on error or when nothing happens within the timeout. */
function settle(socket: Socket, event: 'connect' | 'secureConnect', timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}
