/**
 * Plain-language notes the inbox page shows under a message whose verdicts would puzzle a newcomer.
 * Today one: mail the relay forwarded (SRS envelope sender, ARC seal) fails DMARC at the receiver by
 * design, and ARC is what carries its original results (RFC 8617 section 1; RFC 7960 section 3.2.3
 * on why forwarding breaks SPF alignment).
 */
import type { StoredMessage } from './inbox-store';

const SRS_SENDER = /^SRS[01][=+-]/i;

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : address.slice(at + 1).replace(/>.*$/, '').toLowerCase();
}

/** The From address inside a From header value such as `Alice <alice@sender.test>`. */
function fromAddress(from: string): string {
  return /<([^<>]+)>/.exec(from)?.[1] ?? from.trim();
}

export function forwardingNote(message: StoredMessage): string | undefined {
  const { verdicts, envelope } = message;
  if (!SRS_SENDER.test(envelope.mailFrom) || verdicts.arc.result !== 'pass' || verdicts.dmarc.result === 'pass') return undefined;
  const fromDomain = domainOf(fromAddress(message.from));
  const forwarder = domainOf(envelope.mailFrom);
  const dkim =
    verdicts.dkim.result === 'pass'
      ? `the DKIM signature that still verifies is not ${fromDomain}'s own`
      : `no DKIM signature of ${fromDomain} arrived intact (${verdicts.dkim.detail})`;
  return (
    `Forwarded by the relay: the envelope sender was rewritten to an SRS address at ${forwarder} and the message was ARC-sealed. ` +
    `dmarc=${verdicts.dmarc.result} is expected here: DMARC needs SPF or DKIM aligned with the From domain ${fromDomain}, ` +
    `but SPF now checks the forwarder's address at ${forwarder}, and ${dkim}. ` +
    `arc=pass is what makes it deliverable: the relay sealed the results it saw when the message arrived (ARC-Authentication-Results in the raw source), ` +
    `and receivers that trust the forwarder's seal, as Gmail and Microsoft 365 do for known forwarders, use those instead of this DMARC failure.`
  );
}
