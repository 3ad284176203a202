/**
 * The receiving "internet" MTA for inbox.test on its own loopback address: what Gmail or any
 * provider is to a real deployment. It offers STARTTLS (with its own certificate), takes mail for
 * inbox.test only, verifies SPF/DKIM/DMARC/ARC against the local DNS, and stores the message with
 * its verdicts. It trusts nothing the client says about itself beyond what a real MX would.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { DNSResolver } from 'mailauth';
import { queueIdFromReceived } from '../intake/trace-header';
import { isIPv4, isIPv6 } from 'node:net';
import { reverseName } from '../check/dns-client';
import type { RspamdClient } from '../spam/rspamd-client';
import { listenError } from './errors';
import type { InboxStore, SpamScore, StoredMessage } from './inbox-store';
import { headerValue } from './message-headers';
import { verifyMessage } from './verdicts';

export interface InboxMtaOptions {
  host: string;
  port: number;
  hostname: string;
  domain: string;
  /** The relay's host name: its Received header names the queue id each message had there. */
  relayHostname: string;
  tls: { key: Buffer; cert: Buffer };
  store: InboxStore;
  resolver: DNSResolver;
  maxMessageBytes?: number;
  /** rspamd, when it runs: each arrival's score and symbols are shown on the page. */
  scanner?: RspamdClient;
}

export interface InboxMta {
  host: string;
  port: number;
  close(): Promise<void>;
}

function smtpError(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

async function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The client's verified reverse DNS name (forward-confirmed: the PTR name resolves back to the
 * address), or undefined, as a real MX looks it up. SpamAssassin's RDNS_NONE and rspamd's
 * HFILTER_HOSTNAME_UNKNOWN read it from the Received line, so without it scores taken here would be
 * worse than a real receiver's.
 */
export async function verifiedReverseName(resolver: DNSResolver, address: string): Promise<string | undefined> {
  const ip = address.replace(/^::ffff:(?=\d+\.)/i, '');
  if (!isIPv4(ip) && !isIPv6(ip)) return undefined;
  const lookup = async (name: string, type: string): Promise<string[]> => {
    try {
      return ((await resolver(name, type)) as unknown[]).filter((value): value is string => typeof value === 'string');
    } catch {
      return [];
    }
  };
  for (const name of await lookup(reverseName(ip, isIPv4(ip) ? 'in-addr.arpa' : 'ip6.arpa'), 'PTR')) {
    if ((await lookup(name, isIPv4(ip) ? 'A' : 'AAAA')).includes(ip)) return name.replace(/\.$/, '').toLowerCase();
  }
  return undefined;
}

/** RFC 5321 §4.4 trace field, as the first line of the stored message, in Postfix's form: `from HELO (RDNS [IP])`. */
function receivedHeader(session: SMTPServerSession, rdns: string | undefined, hostname: string, recipient: string): string {
  const helo = session.hostNameAppearsAs || 'unknown';
  const ip = session.remoteAddress.replace(/^::ffff:(?=\d+\.)/i, '');
  const literal = isIPv6(ip) ? `IPv6:${ip}` : ip;
  return `Received: from ${helo} (${rdns ?? 'unknown'} [${literal}])\r\n\tby ${hostname} with ${session.transmissionType} id ${session.id}\r\n\tfor <${recipient}>; ${new Date().toUTCString()}\r\n`;
}

/** rspamd's score for a stored message, or null if it cannot say (the page shows "not scanned"). */
async function spamScore(scanner: RspamdClient | undefined, message: Buffer, session: SMTPServerSession, rdns: string | undefined, sender: string, recipients: string[]): Promise<SpamScore | null> {
  if (!scanner) return null;
  try {
    const result = await scanner.check({
      body: message,
      clientAddress: session.remoteAddress,
      helo: session.hostNameAppearsAs || '',
      ...(rdns ? { hostname: rdns } : {}),
      mailFrom: sender,
      rcptTo: recipients,
      queueId: session.id,
      mtaName: 'mx.inbox.test',
    });
    const symbols = [...result.symbols].sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || a.name.localeCompare(b.name)).map(({ name, score }) => ({ name, score }));
    return { score: result.score, action: result.action, symbols };
  } catch {
    return null;
  }
}

export async function startInboxMta(options: InboxMtaOptions): Promise<InboxMta> {
  const maxBytes = options.maxMessageBytes ?? 26_214_400;
  const domainSuffix = `@${options.domain}`;

  const receive = async (stream: SMTPServerDataStream, session: SMTPServerSession): Promise<StoredMessage> => {
    const message = await readAll(stream);
    if (stream.sizeExceeded) throw smtpError(552, `5.3.4 Message larger than ${maxBytes} bytes`);
    const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const recipients = session.envelope.rcptTo.map((r) => r.address);
    const { verdicts, headers } = await verifyMessage(message, { ip: session.remoteAddress, helo: session.hostNameAppearsAs || '', sender }, options.hostname, options.resolver);
    const rdns = await verifiedReverseName(options.resolver, session.remoteAddress);
    const stored = Buffer.concat([Buffer.from(receivedHeader(session, rdns, options.hostname, recipients[0]) + headers), message]);
    const spam = await spamScore(options.scanner, stored, session, rdns, sender, recipients);
    const end = message.indexOf('\r\n\r\n');
    const queueId = queueIdFromReceived(message.subarray(0, end < 0 ? Math.min(message.length, 65_536) : end).toString('latin1'), options.relayHostname);
    return options.store.save(stored, {
      receivedAt: new Date().toISOString(),
      envelope: { mailFrom: sender, rcptTo: recipients },
      client: { ip: session.remoteAddress, helo: session.hostNameAppearsAs || '', ...(rdns ? { rdns } : {}) },
      tls: session.secure && session.tlsOptions ? { protocol: session.tlsOptions.version, cipher: session.tlsOptions.name } : null,
      from: headerValue(message, 'from'),
      to: headerValue(message, 'to'),
      subject: headerValue(message, 'subject'),
      verdicts,
      spam,
      ...(queueId ? { queueId } : {}),
    });
  };

  const server = new SMTPServer({
    name: options.hostname,
    banner: `${options.domain} (mxkit local: the receiving internet)`,
    key: options.tls.key,
    cert: options.tls.cert,
    size: maxBytes,
    // An MX takes mail from anyone and authenticates no one: verdicts decide, not logins.
    disabledCommands: ['AUTH'],
    authOptional: true,
    disableReverseLookup: true,
    hideDSN: true,
    logger: false,
    // Closing happens after the relay has stopped, so nothing should still be sending; an upper
    // bound keeps Ctrl-C quick even if a client hangs on.
    closeTimeout: 2000,
    onRcptTo(address, _session, done) {
      if (address.address.toLowerCase().endsWith(domainSuffix)) return done();
      done(smtpError(550, `5.7.1 ${options.hostname} accepts mail for ${options.domain} only`));
    },
    onData(stream, session, done) {
      receive(stream, session).then(
        (stored) => done(null, `2.0.0 Ok: queued as ${stored.id}`),
        (error: Error & { responseCode?: number }) => done(error.responseCode ? error : smtpError(451, `4.3.0 Could not store the message: ${error.message}`)),
      );
    },
  });
  server.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(listenError(`inbox MTA (${options.domain})`, options.host, options.port, error));
    server.server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const address = server.server.address() as AddressInfo;
  return {
    host: options.host,
    port: address.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
