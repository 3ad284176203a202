/**
 * Messages made and sent the way other systems on the internet would: DKIM-signed and ARC-sealed
 * with mailauth (an implementation independent of our DNS server and inbox), submitted with
 * nodemailer from a chosen loopback address, the inbox found through the local DNS like any MTA.
 */
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { authenticate, dkimSign, type DNSResolver } from 'mailauth';
import nodemailer from 'nodemailer';
import type { Endpoints } from '../../../relay/src/local/endpoints';

export function dnsResolver(endpoints: Endpoints): Resolver {
  const resolver = new Resolver();
  resolver.setServers([`${endpoints.dns.host}:${endpoints.dns.port}`]);
  return resolver;
}

export function mailauthResolver(endpoints: Endpoints): DNSResolver {
  const resolver = dnsResolver(endpoints);
  return (name, type) => resolver.resolve(name, type) as unknown as Promise<string[][]>;
}

/** A plain RFC 5322 message with a unique subject (so a test finds exactly its own message). */
export function plainMessage(from: string, to: string, subjectPrefix: string): { raw: string; subject: string } {
  const subject = `${subjectPrefix} ${randomBytes(4).toString('hex')}`;
  const raw = [
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${randomBytes(8).toString('hex')}@${from.split('@')[1]}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Sent by the mxkit local end-to-end test.',
    '',
  ].join('\r\n');
  return { raw, subject };
}

export async function dkimSigned(raw: string, domain: string, selector: string, privateKey: string): Promise<string> {
  const signature = { signingDomain: domain, selector, privateKey, canonicalization: 'relaxed/relaxed' };
  // mailauth signs only what is listed in signatureData (its typings suggest the top level is enough).
  // signTime: without it mailauth reads the clock twice and ~0.2% of signatures do not verify.
  const signed = await dkimSign(raw, { ...signature, signTime: new Date(), signatureData: [signature] });
  if (!signed.signatures.includes('DKIM-Signature')) throw new Error('mailauth produced no DKIM-Signature');
  if (signed.errors.length > 0) throw signed.errors[0];
  return signed.signatures + raw;
}

/**
 * What a forwarder does (RFC 8617 §5.1): evaluate the message as received, then prepend an ARC
 * set sealed with its own key. Here the forwarder is example.test with the local DKIM key.
 */
export async function arcSealed(raw: string, received: { ip: string; helo: string; sender: string }, seal: { domain: string; selector: string; privateKey: string }, resolver: DNSResolver): Promise<string> {
  const result = await authenticate(raw, {
    ...received,
    mta: `mail.${seal.domain}`,
    resolver,
    disableBimi: true,
    seal: { signingDomain: seal.domain, selector: seal.selector, privateKey: seal.privateKey, signTime: new Date() },
  });
  return result.headers + raw;
}

export interface SendOptions {
  host: string;
  port: number;
  localAddress?: string;
  ca?: string;
  /** STARTTLS and AUTH, as a mail client on submission does. */
  auth?: { user: string; pass: string };
  envelope: { from: string; to: string[] };
  raw: string;
}

export async function send(options: SendOptions): Promise<string> {
  const transport = nodemailer.createTransport({
    host: options.host,
    port: options.port,
    secure: false,
    requireTLS: options.ca !== undefined,
    ignoreTLS: options.ca === undefined,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    ...(options.auth ? { auth: options.auth } : {}),
    tls: options.ca ? { ca: options.ca } : {},
  });
  try {
    const info = await transport.sendMail({ envelope: options.envelope, raw: options.raw });
    return info.response;
  } finally {
    transport.close();
  }
}

/** The inbox MTA as a sender finds it: MX of inbox.test, its address, and the port the relay delivers to. */
export async function inboxMx(endpoints: Endpoints, stateDir: string): Promise<{ host: string; port: number; ca: string }> {
  const resolver = dnsResolver(endpoints);
  const [mx] = await resolver.resolveMx('inbox.test');
  const [host] = await resolver.resolve4(mx.exchange);
  const relayConfig = JSON.parse(readFileSync(join(stateDir, 'relay.json'), 'utf8')) as { delivery: { port: number } };
  return { host, port: relayConfig.delivery.port, ca: readFileSync(join(stateDir, 'inbox-tls.crt'), 'utf8') };
}

export function stateFile(stateDir: string, name: string): string {
  return readFileSync(join(stateDir, name), 'utf8');
}
