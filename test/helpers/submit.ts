/**
 * The one way tests open a nodemailer client to a relay under test: which listener, whose
 * credentials, the relay's CA and name for verification. Everything else nodemailer takes can be
 * added (`pool`, `name`, an auth `method`, ...).
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { HOSTNAME, PASSWORD } from './relay';

export type Listener = 'mx' | 'submission' | 'submissions';

export interface SmtpTarget {
  /** The listener's port. */
  port: number;
  /** The relay's certificate (PEM): verified against it, as a client with a real CA would. */
  ca: string | Buffer;
  host?: string;
  /** The name the certificate is checked for (default the test relay's hostname). */
  servername?: string;
}

export interface TransportOptions extends Omit<SMTPTransport.Options, 'host' | 'port' | 'secure' | 'tls' | 'auth'> {
  /** Which listener `target.port` is: submissions is implicit TLS, the others STARTTLS. Default submissions. */
  listener?: Listener;
  /** Credentials (default the test user app / PASSWORD on submission ports), or false for none. */
  auth?: SMTPTransport.Options['auth'] | false;
  /** A connection pool (nodemailer SMTPPool) of up to maxConnections sessions. */
  pool?: boolean;
  maxConnections?: number;
}

export function smtpTransport(target: SmtpTarget, options: TransportOptions = {}): Transporter<SMTPTransport.SentMessageInfo> {
  const { listener = 'submissions', auth, ...rest } = options;
  const credentials = auth === false || (auth === undefined && listener === 'mx') ? {} : { auth: auth ?? { user: 'app', pass: PASSWORD } };
  const settings: SMTPTransport.Options = {
    host: target.host ?? '127.0.0.1',
    port: target.port,
    secure: listener === 'submissions',
    // STARTTLS is offered on mx and required on submission: never fall back to plain text.
    ...(listener === 'submission' ? { requireTLS: true } : {}),
    tls: { ca: target.ca, servername: target.servername ?? HOSTNAME },
    ...credentials,
    ...rest,
  };
  return nodemailer.createTransport(settings);
}

/** A transport to one listener of a relay started by startTestRelay (test/helpers/relay.ts). */
export function relayTransport(relay: { port(listener: Listener): number; certificate: { cert: string } }, options: TransportOptions = {}): Transporter<SMTPTransport.SentMessageInfo> {
  const listener = options.listener ?? 'submissions';
  return smtpTransport({ port: relay.port(listener), ca: relay.certificate.cert }, { ...options, listener });
}
