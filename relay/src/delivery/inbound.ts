/**
 * Inbound mail for our domains (the `mx` listener): SPF (RFC 7208), DKIM (RFC 6376), DMARC
 * (RFC 7489) and ARC (RFC 8617) evaluated with mailauth through our resolver, an
 * Authentication-Results header (RFC 8601) added, and -- because the message will be forwarded
 * per `routes` -- an ARC set sealed with our DKIM key, so the next hop can trust our verdicts even
 * though forwarding breaks SPF and may break DKIM. DMARC `p=reject` failures are refused (RFC 7489
 * 6.6.3 / 7.2: reject during the SMTP transaction), `quarantine` is marked.
 *
 * This returns data only; the intake turns a "reject" into its SMTP reply.
 */
import type { DkimSigner } from './dkim';
import type { DeliveryResolver } from './resolver';
import type { InboundMessage, InboundVerdict } from '../inbound-check';

/** Public-suffix options mailauth uses for DMARC's organisational domain (RFC 7489 3.2). */
const PSL = { allowIcannDomains: true, allowPrivateDomains: true };

type GetDomain = (typeof import('tldts'))['getDomain'];

/** Relaxed alignment (RFC 7489 3.1.1): the same organisational domain (by the public suffix list, tldts). */
function relaxedAligned(getDomain: GetDomain, a: string, b: string): boolean {
  const organisational = (domain: string) => (getDomain(domain, PSL) ?? domain).toLowerCase().replace(/\.$/, '');
  return organisational(a) === organisational(b);
}

export class InboundAuthenticator {
  constructor(
    private readonly hostname: string,
    private readonly resolver: DeliveryResolver,
    private readonly signers: readonly DkimSigner[],
  ) {}

  async check(input: InboundMessage): Promise<InboundVerdict> {
    // mailauth's ARC sealer signs with rsa-sha256 only.
    const rsa = this.signers.filter((signer) => signer.algorithm === 'rsa-sha256');
    const sealer = rsa.find((signer) => signer.domain === input.recipientDomain) ?? rsa[0];
    // mailauth (and its dependencies) load on the first inbound message: a relay that only submits never needs them.
    const [{ authenticate }, { getDomain }] = await Promise.all([import('mailauth'), import('tldts')]);
    const result = await authenticate(input.message, {
      ip: input.clientAddress.replace(/^::ffff:/i, ''),
      helo: input.helo,
      sender: input.mailFrom,
      mta: this.hostname,
      resolver: this.resolver.forMailauth,
      disableBimi: true,
      ...(sealer ? { seal: { signingDomain: sealer.domain, selector: sealer.selector, privateKey: sealer.privateKey, signTime: new Date() } } : {}),
    });
    const dmarc = result.dmarc || undefined;
    const dmarcResult = dmarc?.status.result ?? 'none';
    let action: InboundVerdict['action'] = 'accept';
    if (dmarc && dmarcResult === 'fail') {
      action = dmarc.policy === 'reject' ? 'reject' : dmarc.policy === 'quarantine' ? 'quarantine' : 'accept';
      // RFC 7489 6.6.4: pct < 100 applies the policy to that share and the next weaker one to the rest.
      if (action !== 'accept' && dmarc.pct !== undefined && dmarc.pct < 100 && Math.random() * 100 >= dmarc.pct) {
        action = action === 'reject' ? 'quarantine' : 'accept';
      }
    }
    // Whom a DSN would go to is the envelope sender, so that is what must be authenticated: SPF
    // for its domain, or a passing DKIM signature of its organisational domain. DMARC's alignment
    // with the header From says nothing about the envelope (RFC 7489 4.1; RFC 3834 2: no
    // automatic response to an unverified return path).
    const senderDomain = input.mailFrom.includes('@') ? input.mailFrom.slice(input.mailFrom.lastIndexOf('@') + 1) : '';
    const spf = result.spf ? result.spf.status.result : 'none';
    const alignedDkim = senderDomain
      ? result.dkim.results.find((entry) => entry.status.result === 'pass' && typeof entry.signingDomain === 'string' && relaxedAligned(getDomain, entry.signingDomain, senderDomain))?.signingDomain
      : undefined;
    const authResults = /^Authentication-Results: ((?:.*)(?:\r\n[ \t].*)*)/m.exec(result.headers)?.[1] ?? `${this.hostname}; none`;
    let headers = result.headers;
    if (action === 'quarantine') headers += `X-Mxkit-Quarantine: dmarc=fail policy=quarantine header.from=${dmarc?.domain ?? ''}\r\nX-Spam-Flag: YES\r\n`;
    return {
      action,
      headers,
      spf,
      dkim: result.dkim.results.map((entry) => entry.status.result).join(',') || 'none',
      dmarc: dmarcResult,
      ...(dmarc?.domain ? { dmarcDomain: dmarc.domain } : {}),
      arc: result.arc ? result.arc.status.result : 'none',
      ...(alignedDkim ? { alignedDkim } : {}),
      senderAuthenticated: senderDomain !== '' && (spf === 'pass' || alignedDkim !== undefined),
      authResults,
    };
  }
}
