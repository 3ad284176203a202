/**
 * One delivery attempt of one queued message: plan its recipients on the first attempt, prepare
 * what leaves (DKIM-signed, or for forwarded mail possibly From-rewritten: outgoing.ts), deliver
 * per destination domain in parallel (each in its provider group's turn: throttle.ts), record
 * every recipient's outcome durably as soon as it is known, then end failures (a DSN, or the
 * failed list: endings.ts), reschedule, or finish. The relay's own report mailboxes are stored
 * locally (reports/sink.ts).
 */
import type { SpooledMessage } from '../spool/envelope';
import type { DeliveryState, RecipientState } from '../spool/state';
import type { AttemptContext } from './attempt-context';
import { failedRecord, reportFailures, warnDelayed } from './endings';
import type { LocalMailbox } from './events';
import { planRecipients } from './forwarding';
import { nextAttemptTime } from './next-attempt';
import { localOutcome, type Outcome } from './outcome';
import { forwarderFor, outgoingMessage, rewritesFrom } from './outgoing';
import { deliverGroup } from './transport';

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
  // Who and where, on every event (events.ts): the trace, suppression and per-user metrics use it.
  const about = (recipient: RecipientState) => ({ id, to: recipient.to, ...(recipient.original !== recipient.to ? { original: recipient.original } : {}), ...(envelope.authUser ? { user: envelope.authUser } : {}), listener: envelope.listener });
  // Bounced recipients whose DSN is not yet spooled: planned bounces of a new message, and those a
  // crash or a spool error cut off last time (the flag is stored with the bounce, cleared after).
  if (!stored) {
    for (const recipient of state.recipients.filter((r) => r.status === 'bounced')) {
      recipient.dsnPending = true;
      ctx.metrics.bounced.inc({ reason: recipient.reason ?? 'unknown' });
      log.warn({ to: recipient.to, reason: recipient.reason, detail: recipient.lastError }, 'bounced');
      ctx.events.emit('bounced', { ...about(recipient), reason: recipient.reason ?? 'unknown', status: recipient.statusCode ?? '5.0.0', detail: recipient.lastError ?? '' });
    }
  }
  const newlyBounced: RecipientState[] = state.recipients.filter((recipient) => recipient.status === 'bounced' && recipient.dsnPending === true);
  const pending = state.recipients.filter((recipient) => recipient.status === 'pending');
  let writes = Promise.resolve();
  let stateWriteError: unknown;
  const persist = () => (writes = writes.then(() => ctx.spool.state.write(state)));

  // Held back by our own throttle: no remote contact, so no attempt counts (and no retry-schedule step).
  let throttledUntil: number | undefined;
  let attempted = false;
  const record = (recipient: RecipientState, outcome: Outcome) => {
    if (outcome.retryAt !== undefined) throttledUntil = Math.min(throttledUntil ?? Infinity, outcome.retryAt);
    else attempted = true;
    if (outcome.reason !== 'throttled') recipient.attempts++;
    recipient.lastAttemptAt = new Date().toISOString();
    recipient.statusCode = outcome.status;
    recipient.reason = outcome.reason;
    recipient.lastError = outcome.verdict === 'delivered' ? undefined : outcome.detail;
    if (outcome.remoteMta) recipient.remoteMta = outcome.remoteMta;
    const fields = { to: recipient.to, reason: outcome.reason, status: outcome.status, detail: outcome.detail, remoteMta: outcome.remoteMta };
    const event = { ...about(recipient), ...fields, ...(outcome.remoteAddress ? { remoteAddress: outcome.remoteAddress } : {}), ...(outcome.tls !== undefined ? { tls: outcome.tls } : {}) };
    if (outcome.verdict === 'delivered') {
      recipient.status = 'delivered';
      ctx.metrics.delivered.inc({ route: recipient.local ? 'local' : ctx.transport.smarthost ? 'smarthost' : 'mx', tls: outcome.tls ? 'yes' : 'no' });
      ctx.metrics.queueAge.observe((Date.now() - Date.parse(envelope.receivedAt)) / 1000);
      log.info({ ...fields, tls: outcome.tls }, 'delivered');
      ctx.events.emit('delivered', { ...event, tls: outcome.tls === true });
    } else if (outcome.verdict === 'bounced') {
      bounce(recipient, outcome);
    } else {
      ctx.metrics.deferred.inc({ reason: outcome.reason });
      log.info(fields, 'deferred');
      ctx.events.emit('deferred', { ...event, ...(outcome.retryAt !== undefined ? { retryAt: new Date(outcome.retryAt).toISOString() } : {}) });
    }
  };
  const bounce = (recipient: RecipientState, outcome: Outcome) => {
    recipient.status = 'bounced';
    recipient.dsnPending = true;
    recipient.statusCode = outcome.status.startsWith('4') && outcome.reason !== 'expired' ? `5${outcome.status.slice(1)}` : outcome.status;
    recipient.lastError = outcome.detail;
    recipient.reason = outcome.reason;
    newlyBounced.push(recipient);
    ctx.metrics.bounced.inc({ reason: outcome.reason });
    ctx.metrics.queueAge.observe((Date.now() - Date.parse(envelope.receivedAt)) / 1000);
    log.warn({ to: recipient.to, reason: outcome.reason, status: outcome.status, detail: outcome.detail }, 'bounced');
    ctx.events.emit('bounced', { ...about(recipient), reason: outcome.reason, status: recipient.statusCode, detail: outcome.detail, ...(outcome.remoteMta ? { remoteMta: outcome.remoteMta } : {}), ...(outcome.remoteAddress ? { remoteAddress: outcome.remoteAddress } : {}), ...(outcome.tls !== undefined ? { tls: outcome.tls } : {}) });
  };

  // The relay's own mailboxes (DMARC/TLS-RPT reports, complaints): stored here, never sent on.
  for (const recipient of pending.filter((candidate) => candidate.local)) {
    const outcome = ctx.storeLocally
      ? await ctx.storeLocally(recipient.local as LocalMailbox, envelope, body).catch((error: unknown) => localOutcome('local_error', `storing the report failed: ${(error as Error).message}`))
      : localOutcome('local_error', 'no local store for this mailbox');
    record(recipient, outcome);
  }
  const remote = pending.filter((recipient) => !recipient.local);
  if (remote.length > 0) {
    const rewrite = rewritesFrom(ctx.config);
    const groups = new Map<string, { forwarder: string | undefined; recipients: RecipientState[] }>();
    for (const recipient of remote) {
      // A smarthost takes every domain in one transaction; MX delivery is per domain. A rewritten
      // forward carries its forwarder address in From, so each one is its own message.
      const forwarder = forwarderFor(envelope, recipient.original, rewrite);
      const key = `${ctx.transport.smarthost ? '' : domainOf(recipient.to)}\n${recipient.mailFrom}\n${forwarder ?? ''}`;
      const group = groups.get(key) ?? { forwarder, recipients: [] };
      group.recipients.push(recipient);
      groups.set(key, group);
    }
    const prepared = new Map<string, Promise<Buffer>>();
    const prepare = (forwarder: string | undefined): Promise<Buffer> => {
      const key = forwarder ?? '';
      const existing = prepared.get(key);
      if (existing) return existing;
      const made = outgoingMessage(envelope, body, forwarder, ctx.signers);
      prepared.set(key, made);
      return made;
    };
    await Promise.all(
      [...groups.values()].map(async ({ forwarder, recipients: group }) => {
        let outgoing: Buffer;
        try {
          outgoing = await prepare(forwarder);
        } catch (error) {
          // Signed (or sealed) or not sent at all: outcome 'dkim' defers until a key works.
          log.error({ err: error }, 'DKIM signing failed; deferring, never sending unsigned');
          for (const recipient of group) record(recipient, localOutcome('dkim', (error as Error).message));
          await persist().catch((writeError: unknown) => (stateWriteError ??= writeError));
          return;
        }
        const domain = domainOf(group[0].to);
        const to = group.map((r) => r.to);
        const result = await ctx.throttle
          .run(id, domain, to, () => deliverGroup(ctx.transport, domain, group[0].mailFrom, to, outgoing))
          .catch((error: unknown) => ({ outcomes: new Map<string, Outcome>(), secure: undefined, error }));
        if (result.secure !== undefined) ctx.metrics.sessions.inc({ tls: result.secure ? 'yes' : 'no' });
        for (const recipient of group) {
          record(recipient, result.outcomes.get(recipient.to) ?? localOutcome('local_error', `no reply recorded for ${recipient.to}`));
        }
        // This group's outcomes are durable before anything else happens. When it was the only
        // group and every recipient is now delivered, removing the message (next) is that
        // durable record, so the state file would be written only to be deleted.
        const messageDone = groups.size === 1 && state.recipients.every((recipient) => recipient.status === 'delivered');
        // A failed write must not end the attempt while other groups still deliver: the
        // scheduler would retry the message beside them (duplicate sessions, racing writes).
        if (!messageDone) await persist().catch((writeError: unknown) => (stateWriteError ??= writeError));
      }),
    );
    if (stateWriteError !== undefined) throw stateWriteError;
  }

  if (attempted || pending.length === 0) state.attempts++;
  const age = Date.now() - Date.parse(envelope.receivedAt);
  const stillPending = state.recipients.filter((recipient) => recipient.status === 'pending');
  if (stillPending.length > 0 && age >= ctx.maxQueueTimeMs) {
    for (const recipient of stillPending) {
      bounce(recipient, localOutcome('expired', `gave up after ${Math.round(age / 1000)}s in the queue; last error: ${recipient.lastError ?? 'none'}`, recipient.remoteMta));
    }
  }
  if (newlyBounced.length > 0) {
    await reportFailures(ctx, envelope, body, newlyBounced, log);
    newlyBounced.forEach((recipient) => delete recipient.dsnPending);
  }
  const remaining = state.recipients.filter((recipient) => recipient.status === 'pending');
  if (remaining.length > 0 && age >= ctx.delayWarningMs && !state.delayWarned) {
    await warnDelayed(ctx, envelope, body, remaining, log);
    state.delayWarned = true;
  }

  await writes;
  if (remaining.length === 0) {
    const failed = failedRecord(envelope, state, ctx.failedRetentionMs);
    if (failed) {
      await ctx.spool.moveToFailed(failed);
      ctx.metrics.failedMessages.inc();
      log.warn({ failed: failed.recipients.length, expiresAt: failed.expiresAt }, 'message ended without delivery and without a DSN: kept in the failed list');
      ctx.events.emit('failed', { id, recipients: failed.recipients.map((r) => r.to) });
    } else {
      await ctx.spool.remove(id);
    }
    ctx.metrics.spoolMessages.dec();
    log.info({ delivered: state.recipients.filter((r) => r.status === 'delivered').length, bounced: state.recipients.filter((r) => r.status === 'bounced').length }, 'message finished');
    ctx.events.emit('finished', { id });
    return undefined;
  }
  const delay = ctx.retryScheduleMs[Math.min(Math.max(state.attempts, 1) - 1, ctx.retryScheduleMs.length - 1)];
  const expiresAt = Date.parse(envelope.receivedAt) + ctx.maxQueueTimeMs;
  const next = nextAttemptTime({ now: Date.now(), delay, expiresAt, throttledUntil, onlyThrottled: !attempted });
  state.nextAttemptAt = new Date(next).toISOString();
  ctx.events.emit('rescheduled', { id, nextAttemptAt: state.nextAttemptAt });
  if (!(await ctx.spool.has(id))) {
    await ctx.spool.state.remove(id);
    return undefined;
  }
  await ctx.spool.state.write(state);
  return next;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
