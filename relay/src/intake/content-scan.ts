/**
 * The content scan as a message check (message-checks.ts): rspamd's verdict, plus the client's
 * `flag` DNSBL listings, on the message as it will be stored. On `mx` the verdict adds header
 * lines (and may tag the Subject); mail our own users submit is refused when rspamd would reject
 * it but never stamped (relay/src/spam/spam-filter.ts).
 */
import type { SpamFilter } from '../spam/spam-filter';
import type { ListenerProfile } from './listener-profile';
import type { MessageCheck } from './message-check';
import { Replies } from './reply';

export function contentScanCheck(spam: SpamFilter, profile: ListenerProfile): MessageCheck {
  return {
    name: 'content_scan',
    async run(message) {
      const { envelope } = message;
      const verdict = await spam.scan({
        listener: profile.kind,
        origin: profile.origin,
        queueId: envelope.id,
        clientAddress: envelope.clientAddress,
        helo: message.helo,
        mailFrom: envelope.mailFrom,
        rcptTo: envelope.rcptTo,
        ...(envelope.authUser !== undefined ? { authUser: envelope.authUser } : {}),
        body: { size: message.size, open: () => message.open() },
        listings: await message.listings().catch(() => []),
        log: message.log,
      });
      if ('reason' in verdict) {
        if (verdict.action === 'reject') throw Replies.spamRejected(verdict.reason);
        throw verdict.action === 'soft_reject' ? Replies.spamSoftReject(verdict.reason) : Replies.spamScanUnavailable();
      }
      if (!profile.inboundChecks) return { headers: '' };
      return { headers: verdict.headers, ...(verdict.subject ? { subject: verdict.subject } : {}) };
    },
  };
}
