/**
 * One delivery attempt of one queued message, in named steps (docs/architecture.md "Delivery"):
 *
 *   load (the envelope; a small message's bytes come with it) → plan (first attempt) → reserve
 *   memory (load-budget.ts) → store local mailboxes → deliver remote groups (prepare, wait for the
 *   throttle's turn, deliver -- DKIM signing and SMTP on delivery's worker threads, transmit.ts --
 *   record) → settle (expire, DSN or failed list, delay warning) → finish or reschedule
 *
 * Every recipient's outcome is durable as soon as it is known (attempt-record.ts); failures end
 * in a DSN or the failed list (endings.ts); the relay's own report mailboxes are stored locally
 * (reports/sink.ts).
 */
import type { SpooledMessage } from '../spool/envelope';
import type { DeliveryState, RecipientState } from '../spool/state';
import type { AttemptContext } from './attempt-context';
import { AttemptRecord } from './attempt-record';
import { failedRecord, reportFailures, warnDelayed } from './endings';
import type { LocalMailbox } from './events';
import { planRecipients } from './forwarding';
import { nextAttemptTime } from './next-attempt';
import { copiesHeld } from './load-budget';
import { localOutcome, type Outcome } from './outcome';
import { forwarderFor, outgoingFor, rewritesFrom, type MessageReader } from './outgoing';
import type { OutgoingSource } from './transmit';
import { deliverGroup, type Outgoing } from './transport';

/** Recipients that leave in one SMTP transaction, with the From rewrite they share (if any). */
interface DeliveryGroup {
  forwarder: string | undefined;
  recipients: RecipientState[];
}

/**
 * Returns the next attempt time, or undefined when the message is finished (or gone).
 * `reserveMemory` (delivery's LoadBudget) is called once, with the bytes this attempt will hold
 * on every thread (load-budget.ts copiesHeld), before it loads or sends anything bigger than the
 * first read.
 */
export async function attemptMessage(ctx: AttemptContext, id: string, reserveMemory: (bytes: number) => Promise<void> = async () => undefined): Promise<number | undefined> {
  const loaded = await load(ctx, id);
  if (!loaded) return undefined;
  const { message, head } = loaded;
  const stored = await ctx.spool.state.read(id);
  const state: DeliveryState = stored ?? plan(ctx, message, id);
  // The bytes, when the first read brought them (a small message); a large one is read only where
  // it is needed here (a DSN quotes it, a local mailbox stores it) -- delivery's worker reads it itself.
  let loading: Promise<Buffer> | undefined;
  const body = (): Promise<Buffer> => (head ? Promise.resolve(head) : (loading ??= ctx.spool.load(id).then((whole) => whole.body)));
  const source: OutgoingSource = head ? { kind: 'bytes', bytes: head } : { kind: 'file', path: message.path, offset: message.bodyOffset };
  const read: MessageReader = { body, headerSection: () => (head ? Promise.resolve(head) : ctx.spool.readHeaderSection(message)) };
  const attempt = new AttemptRecord(ctx, message.envelope, body, state);
  if (!stored) attempt.announcePlannedBounces();
  const pending = attempt.pending();
  const groups = groupRecipients(attempt, pending.filter((recipient) => !recipient.local));
  const rewrittenForwards = new Set(groups.map((group) => group.forwarder).filter((forwarder) => forwarder !== undefined)).size;
  await reserveMemory((head?.length ?? (await ctx.spool.sizeOf(id))) * copiesHeld(rewrittenForwards, groups.length));
  await storeLocalMailboxes(attempt, pending.filter((recipient) => recipient.local));
  await deliverRemote(attempt, source, read, groups);
  if (attempt.attempted || pending.length === 0) state.attempts++;
  const remaining = await settle(attempt);
  await attempt.written();
  return remaining.length === 0 ? finish(attempt) : reschedule(attempt);
}

/**
 * The message's envelope and, when the first read brought them (a small message), its bytes; or
 * undefined when it is gone (delivered, or `mxkit queue remove`).
 */
async function load(ctx: AttemptContext, id: string): Promise<{ message: SpooledMessage; head?: Buffer } | undefined> {
  try {
    // A message this process just spooled is in the page cache: read on the event loop (spool.ts).
    const { message, body } = await ctx.spool.head(id, { recent: ctx.spool.state.isFresh(id) });
    return { message, head: body };
  } catch (error) {
    // Only a missing file means the message is gone; any other error (EMFILE, EIO) is passing:
    // the scheduler retries, and the state stays.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await ctx.spool.state.remove(id);
    return undefined;
  }
}

/** The first attempt's state: every recipient planned (forwarding.ts), none attempted. */
function plan(ctx: AttemptContext, message: SpooledMessage, id: string): DeliveryState {
  return { id, attempts: 0, nextAttemptAt: new Date().toISOString(), recipients: planRecipients(message.envelope, ctx.config, ctx.srs) };
}

/** The relay's own mailboxes (DMARC/TLS-RPT reports, complaints): stored here, never sent on. */
async function storeLocalMailboxes(attempt: AttemptRecord, recipients: readonly RecipientState[]): Promise<void> {
  const { ctx, envelope, body } = attempt;
  for (const recipient of recipients) {
    const outcome = ctx.storeLocally
      ? await ctx.storeLocally(recipient.local as LocalMailbox, envelope, await body()).catch((error: unknown) => localOutcome('local_error', `storing the report failed: ${(error as Error).message}`))
      : localOutcome('local_error', 'no local store for this mailbox');
    attempt.record(recipient, outcome);
  }
}

/**
 * A smarthost takes every domain in one transaction; MX delivery is per domain. A rewritten
 * forward carries its forwarder address in From, so each one is its own message.
 */
function groupRecipients(attempt: AttemptRecord, recipients: readonly RecipientState[]): DeliveryGroup[] {
  const { ctx, envelope } = attempt;
  const rewrite = rewritesFrom(ctx.config);
  const groups = new Map<string, DeliveryGroup>();
  for (const recipient of recipients) {
    const forwarder = forwarderFor(envelope, recipient.original, rewrite);
    const key = `${ctx.transport.smarthost ? '' : domainOf(recipient.to)}\n${recipient.mailFrom}\n${forwarder ?? ''}`;
    const group = groups.get(key) ?? { forwarder, recipients: [] };
    group.recipients.push(recipient);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/**
 * Every remote group in parallel: prepare what leaves, wait for the throttle's turn, deliver
 * (signing happens on the way, in delivery's worker: transmit.ts), record.
 */
async function deliverRemote(attempt: AttemptRecord, source: OutgoingSource, read: MessageReader, groups: readonly DeliveryGroup[]): Promise<void> {
  if (groups.length === 0) return;
  // One prepared message per From rewrite, shared by the groups using it.
  const prepared = new Map<string, Promise<Outgoing>>();
  const sign = (forwarder: string | undefined): Promise<Outgoing> => {
    const key = forwarder ?? '';
    const made = prepared.get(key) ?? outgoingFor(attempt.envelope, source, read, forwarder, attempt.ctx.signers);
    prepared.set(key, made);
    return made;
  };
  // A failed state write must not end the attempt while other groups still deliver: the
  // scheduler would retry the message beside them (duplicate sessions, racing writes).
  let stateWriteError: unknown;
  const persist = () => attempt.persist().catch((writeError: unknown) => void (stateWriteError ??= writeError));
  await Promise.all(groups.map((group) => deliverOneGroup(attempt, group, sign, persist, groups.length === 1)));
  if (stateWriteError !== undefined) throw stateWriteError;
}

async function deliverOneGroup(
  attempt: AttemptRecord,
  { forwarder, recipients }: DeliveryGroup,
  sign: (forwarder: string | undefined) => Promise<Outgoing>,
  persist: () => Promise<void>,
  onlyGroup: boolean,
): Promise<void> {
  const { ctx, log, state } = attempt;
  let outgoing: Outgoing;
  try {
    outgoing = await sign(forwarder);
  } catch (error) {
    // Signed (or sealed) or not sent at all: outcome 'dkim' defers until a key works.
    log.error({ err: error }, 'DKIM signing failed; deferring, never sending unsigned');
    for (const recipient of recipients) attempt.record(recipient, localOutcome('dkim', (error as Error).message));
    await persist();
    return;
  }
  const domain = domainOf(recipients[0].to);
  const to = recipients.map((r) => r.to);
  const result = await ctx.throttle
    .run(attempt.id, domain, to, () => deliverGroup(ctx.transport, domain, recipients[0].mailFrom, to, outgoing))
    .catch((error: unknown) => ({ outcomes: new Map<string, Outcome>(), secure: undefined, error }));
  if (result.secure !== undefined) ctx.metrics.sessions.inc({ tls: result.secure ? 'yes' : 'no' });
  // Signing on delivery's worker failed: the transaction was never opened (outcome 'dkim').
  const unsigned = [...result.outcomes.values()].find((outcome) => outcome.reason === 'dkim');
  if (unsigned) log.error({ detail: unsigned.detail }, 'DKIM signing failed; deferring, never sending unsigned');
  for (const recipient of recipients) {
    attempt.record(recipient, result.outcomes.get(recipient.to) ?? localOutcome('local_error', `no reply recorded for ${recipient.to}`));
  }
  // This group's outcomes are durable before anything else happens. When it was the only group
  // and every recipient is now delivered, removing the message (finish) is that durable record,
  // so the state file would be written only to be deleted.
  const messageDone = onlyGroup && state.recipients.every((recipient) => recipient.status === 'delivered');
  if (!messageDone) await persist();
}

/**
 * Ends what cannot go on: recipients past delivery.maxQueueTime bounce; every new bounce gets a
 * DSN or the failed list (endings.ts); a message still waiting after the warning age gets one
 * "delayed" DSN. Returns the recipients still to deliver.
 */
async function settle(attempt: AttemptRecord): Promise<RecipientState[]> {
  const { ctx, envelope, body, state, log } = attempt;
  const age = Date.now() - Date.parse(envelope.receivedAt);
  const stillPending = attempt.pending();
  if (stillPending.length > 0 && age >= ctx.maxQueueTimeMs) {
    for (const recipient of stillPending) {
      attempt.bounce(recipient, localOutcome('expired', `gave up after ${Math.round(age / 1000)}s in the queue; last error: ${recipient.lastError ?? 'none'}`, recipient.remoteMta));
    }
  }
  if (attempt.newlyBounced.length > 0) {
    await reportFailures(ctx, envelope, await body(), attempt.newlyBounced, log);
    attempt.newlyBounced.forEach((recipient) => delete recipient.dsnPending);
  }
  const remaining = attempt.pending();
  if (remaining.length > 0 && age >= ctx.delayWarningMs && !state.delayWarned) {
    await warnDelayed(ctx, envelope, await body(), remaining, log);
    state.delayWarned = true;
  }
  return remaining;
}

/** Every recipient is done: the message leaves the queue (or goes to the failed list). */
async function finish(attempt: AttemptRecord): Promise<undefined> {
  const { ctx, envelope, state, log, id } = attempt;
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

/** The next attempt's time (delivery.retrySchedule, the throttle), written with the state. */
async function reschedule(attempt: AttemptRecord): Promise<number | undefined> {
  const { ctx, envelope, state, log, id } = attempt;
  const delay = ctx.retryScheduleMs[Math.min(Math.max(state.attempts, 1) - 1, ctx.retryScheduleMs.length - 1)];
  const expiresAt = Date.parse(envelope.receivedAt) + ctx.maxQueueTimeMs;
  const next = nextAttemptTime({ now: Date.now(), delay, expiresAt, throttledUntil: attempt.throttledUntil, onlyThrottled: !attempt.attempted });
  state.nextAttemptAt = new Date(next).toISOString();
  ctx.events.emit('rescheduled', { id, nextAttemptAt: state.nextAttemptAt });
  // Removed by hand (`mxkit queue remove`) while it was being attempted: forget it.
  if (!(await ctx.spool.has(id))) {
    await ctx.spool.state.remove(id);
    return undefined;
  }
  await ctx.spool.state.write(state);
  log.info({ nextAttemptAt: state.nextAttemptAt, pending: attempt.pending().map((recipient) => recipient.to), attempts: state.attempts }, 'next attempt scheduled');
  return next;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
