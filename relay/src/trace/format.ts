/**
 * A message's trace for people: one line per event, and how it ended for each recipient
 * (delivered, deferred until, bounced with or without DSN, failed list, still queued). Used by
 * `mxkit trace` (text) and the ops page (trace-page.ts renders the same lines as HTML).
 */
import type { TraceEntry } from './entry';
import type { MessageTrace } from './reader';

const time = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

function via(entry: { mx?: string; address?: string; tls?: boolean }): string {
  if (!entry.mx && !entry.address) return '';
  const tls = entry.tls === undefined ? '' : entry.tls ? ', TLS' : ', no TLS';
  return ` via ${entry.mx ?? '?'}${entry.address ? ` [${entry.address}]` : ''}${tls}`;
}

export function describeEntry(entry: TraceEntry): string {
  switch (entry.kind) {
    case 'received': {
      const who = [entry.user ? `user ${entry.user}` : undefined, entry.listener, entry.client].filter(Boolean).join(', ');
      return `received from <${entry.from}> (${who}) for ${entry.to.map((to) => `<${to}>`).join(', ')}`;
    }
    case 'delivered':
      return `delivered <${entry.to}>${via(entry)}: ${entry.reply}`;
    case 'deferred':
      return entry.retryAt ? `held back <${entry.to}> until ${time(entry.retryAt)}: ${entry.reply}` : `deferred <${entry.to}> (${entry.status})${via(entry)}: ${entry.reply}`;
    case 'bounced':
      return `bounced <${entry.to}> (${entry.status})${via(entry)}: ${entry.reply}`;
    case 'retry':
      return `next attempt at ${time(entry.nextAttemptAt)}`;
    case 'dsn':
      return `DSN (${entry.action}) sent to <${entry.to}> as ${entry.dsnId}`;
    case 'no-dsn':
      return `no DSN (${entry.action}): ${entry.reason === 'inbound' ? 'mail received on mx is never bounced to its unverified sender' : entry.reason === 'null_sender' ? 'the message has a null sender' : entry.reason}`;
    case 'failed-list':
      return `put on the failed list${entry.to ? ` for <${entry.to}>` : ''}${entry.reason ? `: ${entry.reason}` : ''}`;
    case 'complaint':
      return `complaint (${entry.feedbackType})${entry.to ? ` by <${entry.to}>` : ''}${entry.reporter ? ` reported by ${entry.reporter}` : ''}`;
    case 'suppressed':
      return `<${entry.to}> added to the suppression list (${entry.reason})`;
    case 'finished':
      return 'finished: removed from the queue';
    default:
      return JSON.stringify(entry);
  }
}

/** How the message ended, per recipient, from the last word the trace has on each. */
export function endings(trace: MessageTrace): string[] {
  const last = new Map<string, string>();
  let nextAttempt: string | undefined;
  let dsn: string | undefined;
  let noDsn: string | undefined;
  let failedList = false;
  let finished = false;
  for (const entry of trace.entries) {
    if (entry.kind === 'delivered') last.set(entry.to, `delivered${entry.mx ? ` to ${entry.mx}` : ''} at ${time(entry.at)}`);
    else if (entry.kind === 'bounced') last.set(entry.to, `bounced (${entry.status}) at ${time(entry.at)}`);
    else if (entry.kind === 'deferred') last.set(entry.to, entry.retryAt ? `held back by the throttle until ${time(entry.retryAt)}` : `deferred (${entry.status})`);
    else if (entry.kind === 'retry') nextAttempt = entry.nextAttemptAt;
    else if (entry.kind === 'dsn' && entry.action === 'failed') dsn = entry.dsnId;
    else if (entry.kind === 'no-dsn' && entry.action === 'failed') noDsn = entry.reason;
    else if (entry.kind === 'failed-list') failedList = true;
    else if (entry.kind === 'finished') finished = true;
  }
  const lines = [...last.entries()].map(([to, state]) => {
    if (state.startsWith('bounced')) return `<${to}>: ${state}, ${dsn ? `DSN ${dsn} to the sender` : noDsn ? `no DSN (${noDsn})` : 'DSN pending'}${failedList ? ', on the failed list' : ''}`;
    if (state.startsWith('deferred') && !finished) return `<${to}>: ${state}, next attempt ${nextAttempt ? time(nextAttempt) : 'scheduled'}`;
    return `<${to}>: ${state}`;
  });
  const received = trace.entries.find((entry) => entry.kind === 'received');
  if (received?.kind === 'received') {
    for (const to of received.to) if (!last.has(to) && ![...last.keys()].some((key) => key.toLowerCase() === to.toLowerCase())) lines.push(`<${to}>: ${finished ? 'finished' : 'queued, not attempted yet'}`);
  }
  if (lines.length === 0) lines.push(finished ? 'finished' : 'queued');
  return lines;
}

export function formatTraceText(traces: readonly MessageTrace[]): string[] {
  if (traces.length === 0) return ['no trace found (kept for delivery.traceRetention)'];
  const lines: string[] = [];
  for (const trace of traces) {
    lines.push(`message ${trace.id}`);
    for (const entry of trace.entries) lines.push(`  ${time(entry.at)}  ${describeEntry(entry)}`);
    lines.push('  how it ended:');
    for (const ending of endings(trace)) lines.push(`    ${ending}`);
    lines.push('');
  }
  return lines.slice(0, -1);
}
