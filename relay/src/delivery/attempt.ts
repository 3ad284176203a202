/**
 * One delivery attempt of one queued message: plan its recipients on the first attempt, DKIM-sign,
 * deliver per destination domain in parallel (within the limits), record every recipient's outcome
 * durably as soon as it is known, then bounce (RFC 3464 DSN), reschedule, or finish. Mail received
 * on `mx` is never bounced (no backscatter, see notify and forwarding.ts dsnRecipient).
 */
import type { EventEmitter } from 'node:events';
import type { RelayConfig } from '../config/schema';
import type { Logger } from '../ops/logger';
import type { RelayMetrics } from '../ops/metrics';
import type { SpoolEnvelope, SpooledMessage } from '../spool/envelope';
import type { Spool } from '../spool/spool';
import type { DeliveryState, RecipientState } from '../spool/state';
import { signMessage, type DkimSigner } from './dkim';
import { buildDsn, type DsnRecipient } from './dsn';
import { dsnRecipient, planRecipients } from './forwarding';
import type { Limiter } from './limiter';
import { localOutcome, type Outcome } from './outcome';
import type { Srs } from './srs';
import { deliverGroup, type TransportSettings } from './transport';

/** RFC 3464 delay warnings: one, after the message has waited this long. */
export const DELAY_WARNING_MS = 4 * 3_600_000;

export interface AttemptContext {
  config: RelayConfig;
  spool: Spool;
  logger: Logger;
  metrics: RelayMetrics;
  events: EventEmitter;
  transport: TransportSettings;
  limiter: Limiter;
  signers: readonly DkimSigner[];
  srs: Srs;
  retryScheduleMs: readonly number[];
  maxQueueTimeMs: number;
  /** Age after which a still-undelivered message earns one "delayed" DSN (default 4 h). */
  delayWarningMs: number;
  /** Schedules a message the relay spooled itself (a DSN). */
  scheduleNew(envelope: SpoolEnvelope): void;
}

/** Returns the next attempt time, or undefined when the message is finished (or gone). */
export async function attemptMessage(ctx: AttemptContext, id: string): Promise<number | undefined> {
  let message: SpooledMessage;
  let body: Buffer;
  try {
    ({ message, body } = await ctx.spool.load(id));
  } catch (error) {
    // Only a missing file means the message is gone (delivered, or `mxkit queue remove`); any other
    // error (EMFILE, EIO) is passing: the scheduler retries, and the state stays.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await ctx.spool.state.remove(id);
    return undefined;
  }
  const { envelope } = message;
  const log = ctx.logger.child({ queueId: id });
  const stored = await ctx.spool.state.read(id);
  const state: DeliveryState = stored ?? { id, attempts: 0, nextAttemptAt: new Date().toISOString(), recipients: planRecipients(envelope, ctx.config, ctx.srs) };
  // Bounced recipients whose DSN is not yet spooled: planned bounces of a new message, and those a
  // crash or a spool error cut off last time (the flag is stored with the bounce, cleared after).
  if (!stored) state.recipients.filter((recipient) => recipient.status === 'bounced').forEach((recipient) => (recipient.dsnPending = true));
  const newlyBounced: RecipientState[] = state.recipients.filter((recipient) => recipient.status === 'bounced' && recipient.dsnPending === true);
  const pending = state.recipients.filter((recipient) => recipient.status === 'pending');
  let writes = Promise.resolve();
  const persist = () => (writes = writes.then(() => ctx.spool.state.write(state)));

  const record = (recipient: RecipientState, outcome: Outcome) => {
    recipient.attempts++;
    recipient.lastAttemptAt = new Date().toISOString();
    recipient.statusCode = outcome.status;
    recipient.lastError = outcome.verdict === 'delivered' ? undefined : outcome.detail;
    if (outcome.remoteMta) recipient.remoteMta = outcome.remoteMta;
    const fields = { to: recipient.to, reason: outcome.reason, status: outcome.status, detail: outcome.detail, remoteMta: outcome.remoteMta };
    if (outcome.verdict === 'delivered') {
      recipient.status = 'delivered';
      ctx.metrics.delivered.inc({ route: ctx.transport.smarthost ? 'smarthost' : 'mx', tls: outcome.tls ? 'yes' : 'no' });
      ctx.metrics.queueAge.observe((Date.now() - Date.parse(envelope.receivedAt)) / 1000);
      log.info({ ...fields, tls: outcome.tls }, 'delivered');
      ctx.events.emit('delivered', { id, to: recipient.to, tls: outcome.tls === true, remoteMta: outcome.remoteMta });
    } else if (outcome.verdict === 'bounced') {
      bounce(recipient, outcome);
    } else {
      ctx.metrics.deferred.inc({ reason: outcome.reason });
      log.info(fields, 'deferred');
      ctx.events.emit('deferred', { id, to: recipient.to, reason: outcome.reason, detail: outcome.detail });
    }
  };
  const bounce = (recipient: RecipientState, outcome: Outcome) => {
    recipient.status = 'bounced';
    recipient.dsnPending = true;
    recipient.statusCode = outcome.status.startsWith('4') && outcome.reason !== 'expired' ? `5${outcome.status.slice(1)}` : outcome.status;
    recipient.lastError = outcome.detail;
    newlyBounced.push(recipient);
    ctx.metrics.bounced.inc({ reason: outcome.reason });
    ctx.metrics.queueAge.observe((Date.now() - Date.parse(envelope.receivedAt)) / 1000);
    log.warn({ to: recipient.to, reason: outcome.reason, status: outcome.status, detail: outcome.detail }, 'bounced');
    ctx.events.emit('bounced', { id, to: recipient.to, reason: outcome.reason, detail: outcome.detail });
  };

  if (pending.length > 0) {
    let outgoing: Buffer | undefined = body;
    if (envelope.listener !== 'mx') {
      // Mail received on `mx` is never signed with our key (that would vouch for strangers); it
      // carries our ARC seal instead. Everything else is signed, or not sent (outcome 'dkim').
      try {
        outgoing = await signMessage(body, ctx.signers);
      } catch (error) {
        log.error({ err: error }, 'DKIM signing failed; deferring, never sending unsigned');
        outgoing = undefined;
        for (const recipient of pending) record(recipient, localOutcome('dkim', (error as Error).message));
      }
    }
    if (outgoing) {
      const signed = outgoing;
      const groups = new Map<string, RecipientState[]>();
      for (const recipient of pending) {
        // A smarthost takes every domain in one transaction; MX delivery is per domain.
        const key = `${ctx.transport.smarthost ? '' : domainOf(recipient.to)}\n${recipient.mailFrom}`;
        groups.set(key, [...(groups.get(key) ?? []), recipient]);
      }
      await Promise.all(
        [...groups.values()].map(async (group) => {
          const domain = domainOf(group[0].to);
          const limiterKey = ctx.transport.smarthost ? 'smarthost' : domain;
          const result = await ctx.limiter
            .run(limiterKey, () => deliverGroup(ctx.transport, domain, group[0].mailFrom, group.map((r) => r.to), signed))
            .catch((error: unknown) => ({ outcomes: new Map<string, Outcome>(), secure: undefined, error }));
          if (result.secure !== undefined) ctx.metrics.sessions.inc({ tls: result.secure ? 'yes' : 'no' });
          for (const recipient of group) {
            record(recipient, result.outcomes.get(recipient.to) ?? localOutcome('local_error', `no reply recorded for ${recipient.to}`));
          }
          // This group's outcomes are durable before anything else happens. When it was the only
          // group and every recipient is now delivered, removing the message (next) is that
          // durable record, so the state file would be written only to be deleted.
          const messageDone = groups.size === 1 && state.recipients.every((recipient) => recipient.status === 'delivered');
          if (!messageDone) await persist();
        }),
      );
    }
  }

  state.attempts++;
  const age = Date.now() - Date.parse(envelope.receivedAt);
  const stillPending = state.recipients.filter((recipient) => recipient.status === 'pending');
  if (stillPending.length > 0 && age >= ctx.maxQueueTimeMs) {
    for (const recipient of stillPending) {
      bounce(recipient, localOutcome('expired', `gave up after ${Math.round(age / 1000)}s in the queue; last error: ${recipient.lastError ?? 'none'}`, recipient.remoteMta));
    }
  }
  const sender = dsnRecipient(envelope, ctx.srs);
  if (newlyBounced.length > 0) {
    await notify(ctx, envelope, body, sender, 'failed', newlyBounced, log);
    newlyBounced.forEach((recipient) => delete recipient.dsnPending);
  }
  const remaining = state.recipients.filter((recipient) => recipient.status === 'pending');
  if (remaining.length > 0 && age >= ctx.delayWarningMs && !state.delayWarned) {
    await notify(ctx, envelope, body, sender, 'delayed', remaining, log);
    state.delayWarned = true;
  }

  await writes;
  if (remaining.length === 0) {
    await ctx.spool.remove(id);
    ctx.metrics.spoolMessages.dec();
    log.info({ delivered: state.recipients.filter((r) => r.status === 'delivered').length, bounced: state.recipients.filter((r) => r.status === 'bounced').length }, 'message finished');
    ctx.events.emit('finished', { id });
    return undefined;
  }
  const delay = ctx.retryScheduleMs[Math.min(state.attempts - 1, ctx.retryScheduleMs.length - 1)];
  const expiresAt = Date.parse(envelope.receivedAt) + ctx.maxQueueTimeMs;
  const next = Math.min(Date.now() + delay, Math.max(expiresAt, Date.now()));
  state.nextAttemptAt = new Date(next).toISOString();
  if (!(await ctx.spool.has(id))) {
    await ctx.spool.state.remove(id);
    return undefined;
  }
  await ctx.spool.state.write(state);
  return next;
}

async function notify(ctx: AttemptContext, envelope: SpoolEnvelope, body: Buffer, to: string | undefined, action: 'failed' | 'delayed', recipients: readonly RecipientState[], log: Logger): Promise<void> {
  if (envelope.listener === 'mx') {
    // No backscatter (RFC 3834 2 and 5, RFC 5321 6.2, M3AAWG practice): mail received on `mx` and
    // forwarded per routes has an unverified envelope sender, usually forged by spam, so a failure
    // or delay is never reported to it (a returned bounce has the null sender, below, anyway). The
    // intake refuses what it can during the SMTP transaction; what fails later is logged here.
    const failures = recipients.map((r) => ({ to: r.to, original: r.original, status: r.statusCode, error: r.lastError }));
    log.warn({ action, from: envelope.mailFrom, recipients: failures }, 'no DSN: mail received on mx is never bounced to its unverified sender');
    ctx.metrics.dsnsSuppressed.inc({ action, reason: 'inbound' });
    ctx.events.emit('dsn-suppressed', { id: envelope.id, action, reason: 'inbound' });
    return;
  }
  if (to === undefined) {
    // RFC 5321 4.5.5 / RFC 3464: never a DSN about a message with a null sender.
    log.info({ action, recipients: recipients.length }, 'no DSN: the message has a null sender');
    ctx.metrics.dsnsSuppressed.inc({ action, reason: 'null_sender' });
    ctx.events.emit('dsn-suppressed', { id: envelope.id, action, reason: 'null_sender' });
    return;
  }
  const dsn = buildDsn({
    hostname: ctx.config.hostname,
    to,
    action,
    queueId: envelope.id,
    arrivalDate: new Date(envelope.receivedAt),
    recipients: recipients.map((r): DsnRecipient => ({ recipient: r.to, original: r.original, status: r.statusCode ?? (action === 'failed' ? '5.0.0' : '4.0.0'), ...(r.lastError ? { diagnostic: r.lastError } : {}), ...(r.remoteMta ? { remoteMta: r.remoteMta } : {}) })),
    originalMessage: body,
  });
  const spooled = await ctx.spool.enqueue({ mailFrom: '', rcptTo: [to], listener: 'dsn', clientAddress: '127.0.0.1', smtpUtf8: envelope.smtpUtf8, bodyType: '7bit' }, dsn);
  ctx.metrics.spoolMessages.inc();
  ctx.metrics.dsns.inc({ action });
  log.info({ dsnId: spooled.id, to, action }, 'DSN queued');
  ctx.events.emit('dsn', { id: envelope.id, dsnId: spooled.id, to, action });
  ctx.scheduleNew(spooled);
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
