/**
 * How a message that is not (fully) delivered ends: a DSN to its sender (RFC 3464), or -- when no
 * DSN may go (a null sender, RFC 5321 4.5.5; an unauthenticated sender on `mx`, where it would be
 * backscatter) -- the failed list, with the reason, counted in mxkit_delivery_failed_total. No
 * ending is silent: every failed recipient ends in exactly one of the two.
 */
import type { Logger } from '../ops/logger';
import type { SpoolEnvelope } from '../spool/envelope';
import type { FailedRecord, NoDsnReason } from '../spool/failed';
import type { DeliveryState, RecipientState } from '../spool/state';
import type { AttemptContext } from './attempt-context';
import { buildDsn, type DsnRecipient } from './dsn';
import { dsnRecipient } from './forwarding';

/** Why no DSN goes to this message's sender, or undefined when one may. */
function noDsnReason(ctx: AttemptContext, envelope: SpoolEnvelope): NoDsnReason | undefined {
  if (dsnRecipient(envelope, ctx.srs) !== undefined) return undefined;
  return envelope.mailFrom === '' ? 'null_sender' : 'unauthenticated_sender';
}

/**
 * Reports failed recipients: a DSN when one may go, else the recipients are marked for the failed
 * list (`noDsn`) and counted. Returns the reason no DSN went, or undefined when one was queued.
 */
export async function reportFailures(ctx: AttemptContext, envelope: SpoolEnvelope, body: Buffer, recipients: readonly RecipientState[], log: Logger): Promise<NoDsnReason | undefined> {
  const reason = noDsnReason(ctx, envelope);
  if (reason === undefined) {
    await queueDsn(ctx, envelope, body, 'failed', recipients, log);
    return undefined;
  }
  for (const recipient of recipients) {
    recipient.noDsn = reason;
    ctx.metrics.failed.inc({ listener: envelope.listener, reason: recipient.reason ?? 'unknown' });
  }
  const failures = recipients.map((r) => ({ to: r.to, original: r.original, status: r.statusCode, reason: r.reason, error: r.lastError }));
  const why = reason === 'null_sender' ? 'the message has a null sender' : 'its sender was not authenticated at intake (a DSN would be backscatter)';
  log.warn({ from: envelope.mailFrom, listener: envelope.listener, noDsn: reason, recipients: failures }, `no DSN: ${why}; kept in the failed list`);
  ctx.metrics.dsnsSuppressed.inc({ action: 'failed', reason });
  ctx.events.emit('dsn-suppressed', { id: envelope.id, action: 'failed', reason });
  return reason;
}

/**
 * One RFC 3464 "delayed" warning, to senders a DSN may go to. Forwarded mail (`mx`) gets none:
 * its sender did not send to us, and the final outcome reaches it (or the failed list) anyway.
 */
export async function warnDelayed(ctx: AttemptContext, envelope: SpoolEnvelope, body: Buffer, recipients: readonly RecipientState[], log: Logger): Promise<void> {
  const reason = envelope.origin === 'inbound' ? 'inbound' : noDsnReason(ctx, envelope);
  if (reason !== undefined) {
    log.info({ action: 'delayed', recipients: recipients.length, reason }, 'no delay warning');
    ctx.metrics.dsnsSuppressed.inc({ action: 'delayed', reason });
    ctx.events.emit('dsn-suppressed', { id: envelope.id, action: 'delayed', reason });
    return;
  }
  await queueDsn(ctx, envelope, body, 'delayed', recipients, log);
}

async function queueDsn(ctx: AttemptContext, envelope: SpoolEnvelope, body: Buffer, action: 'failed' | 'delayed', recipients: readonly RecipientState[], log: Logger): Promise<void> {
  const to = dsnRecipient(envelope, ctx.srs) as string;
  const dsn = buildDsn({
    hostname: ctx.config.hostname,
    to,
    action,
    queueId: envelope.id,
    arrivalDate: new Date(envelope.receivedAt),
    recipients: recipients.map((r): DsnRecipient => ({ recipient: r.to, original: r.original, status: r.statusCode ?? (action === 'failed' ? '5.0.0' : '4.0.0'), ...(r.lastError ? { diagnostic: r.lastError } : {}), ...(r.remoteMta ? { remoteMta: r.remoteMta } : {}) })),
    originalMessage: body,
  });
  const spooled = await ctx.spool.enqueue({ mailFrom: '', rcptTo: [to], origin: 'dsn', listener: 'dsn', clientAddress: '127.0.0.1', smtpUtf8: envelope.smtpUtf8, bodyType: '7bit' }, dsn);
  ctx.metrics.spoolMessages.inc();
  ctx.metrics.dsns.inc({ action });
  log.info({ dsnId: spooled.id, to, action }, 'DSN queued');
  ctx.events.emit('dsn', { id: envelope.id, dsnId: spooled.id, to, action });
  ctx.scheduleNew(spooled);
}

/** The failed-list entry of a finished message, or undefined when every failure got a DSN. */
export function failedRecord(envelope: SpoolEnvelope, state: DeliveryState, retentionMs: number, now = new Date()): FailedRecord | undefined {
  const failed = state.recipients.filter((r) => r.status === 'bounced' && r.noDsn !== undefined);
  if (failed.length === 0) return undefined;
  return {
    id: envelope.id,
    receivedAt: envelope.receivedAt,
    failedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + retentionMs).toISOString(),
    mailFrom: envelope.mailFrom,
    listener: envelope.listener,
    clientAddress: envelope.clientAddress,
    ...(envelope.authUser !== undefined ? { authUser: envelope.authUser } : {}),
    recipients: failed.map((r) => ({
      to: r.to,
      original: r.original,
      status: r.statusCode ?? '5.0.0',
      reason: r.reason ?? 'unknown',
      detail: r.lastError ?? '',
      ...(r.remoteMta ? { remoteMta: r.remoteMta } : {}),
      noDsn: r.noDsn as NoDsnReason,
    })),
    others: state.recipients.filter((r) => !failed.includes(r)).map((r) => ({ to: r.to, status: r.status })),
  };
}
