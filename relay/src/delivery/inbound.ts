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
import { authenticate } from 'mailauth';
import type { DkimSigner } from './dkim';
import type { DeliveryResolver } from './resolver';
import type { InboundMessage, InboundVerdict } from '../inbound-check';


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
    const result = await authenticate(input.message, {
      ip: input.clientAddress.replace(/^::ffff:/i, ''),
      helo: input.helo,
      sender: input.mailFrom,
      mta: this.hostname,
      resolver: this.resolver.forMailauth,
      disableBimi: true,
      ...(sealer ? { seal: { signingDomain: sealer.domain, selector: sealer.selector, privateKey: sealer.privateKey } } : {}),
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
    let headers = result.headers;
    if (action === 'quarantine') headers += `X-Mxkit-Quarantine: dmarc=fail policy=quarantine header.from=${dmarc?.domain ?? ''}\r\nX-Spam-Flag: YES\r\n`;
    return {
      action,
      headers,
      spf: result.spf ? result.spf.status.result : 'none',
      dkim: result.dkim.results.map((entry) => entry.status.result).join(',') || 'none',
      dmarc: dmarcResult,
      ...(dmarc?.domain ? { dmarcDomain: dmarc.domain } : {}),
      arc: result.arc ? result.arc.status.result : 'none',
    };
  }
}
