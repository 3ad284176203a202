/**
 * Service checks, against each address the host's A/AAAA records give: the three SMTP ports answer,
 * STARTTLS works with a certificate valid for the host (TLS ≥ 1.2, days to expiry), the host is not
 * an open relay, and ports that should be closed are.
 */
import { connect as netConnect } from 'node:net';
import { SmtpProbe, type ProbeTarget, type TlsFacts } from './smtp-probe';
import { fail, pass, warn, type CheckResult } from './types';

export interface ServiceCheckOptions {
  domain: string;
  host: string;
  ports: { smtp: number; submission: number; submissions: number };
  closedPorts: number[];
  ca?: string;
  relayTestRecipient: string;
  timeoutMs: number;
  now: () => Date;
}

/** Certificates this close to expiry mean renewal is failing: ACME renews 30 days ahead. */
const EXPIRY_WARN_DAYS = 14;
const DAY_MS = 86_400_000;
const ACCEPTED_PROTOCOLS = new Set(['TLSv1.2', 'TLSv1.3']);

const reason = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));

function openPortFix(port: number, host: string): string {
  return `make sure the relay runs and listens on ${port} and the security group allows it (ssh in via SSM: systemctl status mxkit); if ${host} moved, update its A record`;
}

/** RFC 5280 names in a certificate, for "certificate is for X, not Y". */
function certificateNames(tls: TlsFacts): string {
  const alt = tls.certificate.subjectaltname?.replace(/DNS:/g, '') ?? '';
  const cn = tls.certificate.subject?.CN;
  return alt || (Array.isArray(cn) ? cn.join(', ') : cn) || 'an unnamed subject';
}

/** The certificate results for one TLS connection: validity for the host, protocol, expiry. */
export function certificateChecks(address: string, port: number, host: string, tls: TlsFacts, now: Date): CheckResult[] {
  const where = `${address}:${port}`;
  const results: CheckResult[] = [];
  const acme = `let the relay obtain a certificate for ${host} (mxkit:tls acme, pulumi up); for a private CA pass it with --ca FILE`;
  if (tls.authorized) {
    results.push(pass(`service.tls-certificate.${address}`, 'service', `certificate on ${where} is valid for ${host} (issuer ${tls.certificate.issuer?.O ?? tls.certificate.issuer?.CN ?? '?'})`));
  } else if (tls.authorizationError === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    results.push(fail(`service.tls-certificate.${address}`, 'service', `certificate on ${where} is for ${certificateNames(tls)}, not ${host}`, acme));
  } else if (tls.authorizationError === 'CERT_HAS_EXPIRED') {
    results.push(fail(`service.tls-certificate.${address}`, 'service', `certificate on ${where} expired on ${tls.certificate.valid_to}`, `renew it: the relay renews ACME certificates itself, so check its log (journalctl -u mxkit) for ACME errors; ${acme}`));
  } else {
    results.push(fail(`service.tls-certificate.${address}`, 'service', `certificate on ${where} is not trusted for ${host}: ${tls.authorizationError ?? 'unknown reason'}`, acme));
  }
  // RFC 8996 deprecates TLS 1.0 and 1.1.
  if (ACCEPTED_PROTOCOLS.has(tls.protocol)) results.push(pass(`service.tls-version.${address}`, 'service', `${where} negotiates ${tls.protocol}`));
  else results.push(fail(`service.tls-version.${address}`, 'service', `${where} negotiates ${tls.protocol}`, 'allow TLS 1.2 and 1.3 only (RFC 8996)'));
  const notAfter = Date.parse(tls.certificate.valid_to);
  if (Number.isNaN(notAfter)) {
    results.push(fail(`service.tls-expiry.${address}`, 'service', `certificate on ${where} has no readable expiry date`, acme));
  } else {
    const left = notAfter - now.getTime();
    // Whole days, rounded toward zero both ways: "expires in 4 days", "expired 3 days ago".
    const days = Math.floor(Math.abs(left) / DAY_MS);
    const expires = new Date(notAfter).toISOString().slice(0, 10);
    if (left < 0) results.push(fail(`service.tls-expiry.${address}`, 'service', `certificate on ${where} expired ${days} days ago (${expires})`, `renew the certificate for ${host}; the relay renews ACME certificates 30 days ahead, so check its log for ACME errors`));
    else if (days < EXPIRY_WARN_DAYS) results.push(warn(`service.tls-expiry.${address}`, 'service', `certificate on ${where} expires in ${days} days (${expires})`, `renew the certificate for ${host} now; the relay renews ACME certificates 30 days ahead, so check its log for ACME errors`));
    else results.push(pass(`service.tls-expiry.${address}`, 'service', `certificate on ${where} expires in ${days} days (${expires})`));
  }
  return results;
}

/** Port 25: banner, STARTTLS and the certificate it presents. */
async function checkMxPort(address: string, options: ServiceCheckOptions, target: ProbeTarget): Promise<CheckResult[]> {
  const port = options.ports.smtp;
  let probe: SmtpProbe;
  try {
    probe = await SmtpProbe.connect(target);
  } catch (error) {
    return [fail(`service.smtp.${address}`, 'service', `port ${port} on ${address} is not reachable: ${reason(error)}`, openPortFix(port, options.host))];
  }
  const results: CheckResult[] = [];
  try {
    const banner = await probe.read();
    if (banner.code !== 220) return [fail(`service.smtp.${address}`, 'service', `port ${port} on ${address} greets with ${banner.code} ${banner.text}`, openPortFix(port, options.host))];
    results.push(pass(`service.smtp.${address}`, 'service', `port ${port} on ${address} answers: ${banner.code} ${banner.text.split('\n')[0]}`));
    const { extensions } = await probe.ehlo(options.host);
    if (!extensions.has('STARTTLS')) {
      results.push(fail(`service.starttls.${address}`, 'service', `port ${port} on ${address} does not offer STARTTLS`, 'configure tls.certFile/keyFile (or tls.acme) in the relay config so STARTTLS is offered'));
      return results;
    }
    const tls = await probe.startTls();
    results.push(pass(`service.starttls.${address}`, 'service', `STARTTLS on ${address}:${port} works`));
    results.push(...certificateChecks(address, port, options.host, tls, options.now()));
    return results;
  } catch (error) {
    const id = results.length === 0 ? `service.smtp.${address}` : `service.starttls.${address}`;
    return [...results, fail(id, 'service', `SMTP on ${address}:${port} failed: ${reason(error)}`, 'check the relay log for TLS errors; the certificate and key files must match')];
  } finally {
    await probe.quit();
  }
}

/** Port 587 (RFC 6409): banner, STARTTLS offered and working, AUTH only after TLS. */
async function checkSubmissionPort(address: string, options: ServiceCheckOptions, target: ProbeTarget): Promise<CheckResult> {
  const port = options.ports.submission;
  const id = `service.submission.${address}`;
  let probe: SmtpProbe | undefined;
  try {
    probe = await SmtpProbe.connect(target);
    const banner = await probe.read();
    if (banner.code !== 220) return fail(id, 'service', `port ${port} on ${address} greets with ${banner.code}`, openPortFix(port, options.host));
    const { extensions } = await probe.ehlo(options.host);
    if (extensions.has('AUTH')) return fail(id, 'service', `port ${port} on ${address} offers AUTH before TLS: passwords could travel in clear text`, 'offer AUTH only after STARTTLS (the mxkit relay does; check what listens there)');
    if (!extensions.has('STARTTLS')) return fail(id, 'service', `port ${port} on ${address} does not offer STARTTLS`, 'configure TLS in the relay config');
    const tls = await probe.startTls();
    return pass(id, 'service', `port ${port} on ${address} answers, STARTTLS works (${tls.protocol})`);
  } catch (error) {
    return fail(id, 'service', `port ${port} on ${address}: ${reason(error)}`, openPortFix(port, options.host));
  } finally {
    await probe?.quit();
  }
}

/** Port 465 (RFC 8314 implicit TLS): the TLS handshake and then the banner. */
async function checkSubmissionsPort(address: string, options: ServiceCheckOptions, target: ProbeTarget): Promise<CheckResult> {
  const port = options.ports.submissions;
  const id = `service.submissions.${address}`;
  try {
    const { probe, tls } = await SmtpProbe.connectTls(target);
    try {
      const banner = await probe.read();
      if (banner.code !== 220) return fail(id, 'service', `port ${port} on ${address} greets with ${banner.code}`, openPortFix(port, options.host));
      const trust = tls.authorized ? '' : `, but the certificate is not valid: ${tls.authorizationError ?? '?'}`;
      if (!tls.authorized) return fail(id, 'service', `port ${port} on ${address} answers over ${tls.protocol}${trust}`, `serve a certificate valid for ${options.host} (see the certificate check on port ${options.ports.smtp})`);
      return pass(id, 'service', `port ${port} on ${address} answers over ${tls.protocol}`);
    } finally {
      await probe.quit();
    }
  } catch (error) {
    return fail(id, 'service', `port ${port} on ${address} (implicit TLS): ${reason(error)}`, openPortFix(port, options.host));
  }
}

/**
 * The open-relay self-test: unauthenticated, from outside, ask the MX to take mail for a foreign
 * domain — once with a foreign sender, once with a sender at our own domain (the classic trick).
 * Only MAIL and RCPT are sent, never DATA, so nothing is relayed even if the server is open.
 */
async function checkOpenRelay(address: string, options: ServiceCheckOptions, target: ProbeTarget): Promise<CheckResult> {
  const id = `service.open-relay.${address}`;
  const where = `${address}:${options.ports.smtp}`;
  let probe: SmtpProbe | undefined;
  try {
    probe = await SmtpProbe.connect(target);
    await probe.read();
    await probe.ehlo('open-relay-test.invalid');
    const senders = ['mxkit-check@open-relay-test.invalid', `mxkit-check@${options.domain}`];
    const refusals: string[] = [];
    for (const sender of senders) {
      const mail = await probe.command(`MAIL FROM:<${sender}>`);
      if (mail.code >= 200 && mail.code < 300) {
        const rcpt = await probe.command(`RCPT TO:<${options.relayTestRecipient}>`);
        if (rcpt.code >= 200 && rcpt.code < 300) {
          return fail(id, 'service', `${where} is an OPEN RELAY: it accepted mail from <${sender}> to <${options.relayTestRecipient}> without authentication`, 'accept unauthenticated mail only for your own domains (the mxkit relay does: check what listens on port 25 and its trustedNetworks)');
        }
        refusals.push(`${rcpt.code}`);
      } else {
        refusals.push(`${mail.code} at MAIL`);
      }
      await probe.command('RSET');
    }
    return pass(id, 'service', `${where} refuses to relay to <${options.relayTestRecipient}> (${refusals.join(', ')})`);
  } catch (error) {
    return warn(id, 'service', `open-relay self-test on ${where} not completed: ${reason(error)}`, `make port ${options.ports.smtp} reachable and run the check again`);
  } finally {
    await probe?.quit();
  }
}

/** True when a TCP connection is accepted; refused or silently dropped (firewall) counts as closed. */
function isOpen(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: address, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function checkClosedPort(address: string, port: number, options: ServiceCheckOptions): Promise<CheckResult> {
  const id = `service.closed-port-${port}.${address}`;
  if (await isOpen(address, port, options.timeoutMs)) {
    const fix = port === 22 ? 'close SSH: remove mxkit:sshCidr and pulumi up (use SSM Session Manager instead)' : `close port ${port} in the host's security group`;
    return fail(id, 'service', `port ${port} on ${address} is open but should not be`, fix);
  }
  return pass(id, 'service', `port ${port} on ${address} is closed`);
}

export async function runServiceChecks(addresses: string[], options: ServiceCheckOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const address of addresses) {
    const target = (port: number): ProbeTarget => ({ address, port, servername: options.host, ca: options.ca, timeoutMs: options.timeoutMs });
    results.push(...(await checkMxPort(address, options, target(options.ports.smtp))));
    results.push(await checkSubmissionPort(address, options, target(options.ports.submission)));
    results.push(await checkSubmissionsPort(address, options, target(options.ports.submissions)));
    results.push(await checkOpenRelay(address, options, target(options.ports.smtp)));
    for (const port of options.closedPorts) results.push(await checkClosedPort(address, port, options));
  }
  return results;
}
