/**
 * Checks that judge a whole received message before it is acknowledged: inbound authentication
 * on `mx` (SPF/DKIM/DMARC/ARC, delivery/inbound.ts), then the content scan (rspamd, content-scan.ts)
 * on every listener where it is configured. The body is already in the spool's temp file when they
 * run and the header section is held (bounded) in memory; each check reads the message as it will
 * be stored through `open()` -- as often as it likes, a new stream each time -- so no check holds a
 * message in memory and adding one costs no copy.
 *
 * Checks run in order. Each returns header lines to put in front of the message (above those of
 * the checks before it, as each hop prepends its own) and may replace the Subject (a spam tag);
 * or it throws an SmtpReply to refuse the message, and nothing is stored.
 *
 * To add a check: implement MessageCheck (message-check.ts) and append it in `messageChecksFor`.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { RelayMetrics } from '../ops/metrics';
import { replaceSubject } from '../spam/header-edit';
import { contentScanCheck } from './content-scan';
import type { ListenerProfile } from './listener-profile';
import type { CheckedMessage, MessageCheck } from './message-check';
import { InboundReplies, type InboundHooks } from './policy';
import type { SpamFilter } from '../spam/spam-filter';
import { SmtpReply } from './reply';

/** The parts of a received message the checks see and may change. */
export interface CheckInput extends Pick<CheckedMessage, 'envelope' | 'helo' | 'listings' | 'log'> {
  received: Buffer;
  /** The header section, ending with its empty line. */
  header: Buffer;
  bodySize: number;
  body(): Readable;
}

/** Runs the checks in order; returns what goes in front of the message and its header section. */
export async function runMessageChecks(checks: readonly MessageCheck[], input: CheckInput): Promise<{ prefix: Buffer; header: Buffer }> {
  let prefix = Buffer.alloc(0);
  let header = input.header;
  for (const check of checks) {
    const head = Buffer.concat([prefix, input.received, header]);
    const verdict = await check.run({
      envelope: input.envelope,
      helo: input.helo,
      listings: input.listings,
      log: input.log,
      size: head.length + input.bodySize,
      open: () => concatenate(head, input.body()),
    });
    prefix = Buffer.concat([Buffer.from(verdict.headers, 'latin1'), prefix]);
    if (verdict.subject !== undefined) header = replaceSubject(header, verdict.subject);
  }
  return { prefix, header };
}

function concatenate(head: Buffer, body: Readable): Readable {
  const out = new PassThrough({ highWaterMark: 64 * 1024 });
  out.write(head);
  body.on('error', (error) => out.destroy(error));
  out.on('close', () => body.destroy()); // a reader that stops early leaves no file open
  body.pipe(out);
  return out;
}

/** SPF/DKIM/DMARC/ARC at DATA (RFC 7489 7.2: refuse p=reject failures during the transaction). */
export function inboundAuthenticationCheck(inbound: InboundHooks, metrics: RelayMetrics): MessageCheck {
  return {
    name: 'inbound_authentication',
    async run(message) {
      const { envelope, log } = message;
      const recipient = envelope.rcptTo[0] ?? '';
      let verdict: Awaited<ReturnType<InboundHooks['check']>>;
      try {
        verdict = await inbound.check({
          message: message.open(),
          clientAddress: envelope.clientAddress,
          helo: message.helo,
          mailFrom: envelope.mailFrom,
          recipientDomain: recipient.slice(recipient.lastIndexOf('@') + 1),
        });
      } catch (error) {
        if (error instanceof SmtpReply) throw error;
        log.error({ err: error }, 'inbound authentication failed unexpectedly');
        throw InboundReplies.authCheckFailed();
      }
      metrics.inbound.inc({ dmarc: verdict.dmarc, action: verdict.action });
      log.info({ spf: verdict.spf, dkim: verdict.dkim, dmarc: verdict.dmarc, arc: verdict.arc, action: verdict.action }, 'inbound authentication');
      if (verdict.action === 'reject') throw InboundReplies.dmarcReject(verdict.dmarcDomain ?? 'the sender domain');
      // Written into the envelope line with the message: delivery decides on it after any restart.
      envelope.inbound = {
        spf: verdict.spf,
        ...(verdict.alignedDkim ? { alignedDkim: verdict.alignedDkim } : {}),
        senderAuthenticated: verdict.senderAuthenticated,
        arc: verdict.arc,
        authResults: verdict.authResults,
      };
      return { headers: verdict.headers };
    },
  };
}

/** The checks a listener runs at DATA, in order. */
export function messageChecksFor(profile: ListenerProfile, hooks: { inbound?: InboundHooks; spam?: SpamFilter }, metrics: RelayMetrics): MessageCheck[] {
  const checks: MessageCheck[] = [];
  if (profile.inboundChecks && hooks.inbound) checks.push(inboundAuthenticationCheck(hooks.inbound, metrics));
  if (hooks.spam?.marksMessages) checks.push(contentScanCheck(hooks.spam, profile));
  return checks;
}
