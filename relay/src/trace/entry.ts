/**
 * One line of the trace store: what happened to a queued message, when. Every field that came
 * from the network (addresses, remote replies) is cut to a bounded length before it is stored, so
 * one hostile reply cannot bloat the store or the page that shows it.
 */
import { printable } from '../printable';

export type TraceEntry = { at: string; id: string } & (
  | { kind: 'received'; from: string; to: string[]; listener: string; client?: string; user?: string }
  | {
      kind: 'delivered' | 'deferred' | 'bounced';
      to: string;
      original?: string;
      status: string;
      reason: string;
      /** The remote reply or the local failure. */
      reply: string;
      mx?: string;
      address?: string;
      tls?: boolean;
      /** Held back by the throttle until then. */
      retryAt?: string;
    }
  | { kind: 'retry'; nextAttemptAt: string }
  | { kind: 'dsn'; to: string; action: string; dsnId: string }
  | { kind: 'no-dsn'; action: string; reason: string }
  | { kind: 'failed-list'; to?: string; reason?: string }
  | { kind: 'complaint'; to?: string; feedbackType: string; reporter?: string }
  | { kind: 'suppressed'; to: string; reason: string }
  | { kind: 'finished' }
);

export type TraceKind = TraceEntry['kind'];

const MAX_TEXT = 500;
const MAX_ADDRESS = 320;
const MAX_RECIPIENTS = 100;

export function clip(text: string, max = MAX_TEXT): string {
  return printable(text, max);
}

export function clipAddress(address: string): string {
  return clip(address, MAX_ADDRESS);
}

export function clipRecipients(addresses: readonly string[]): string[] {
  const kept = addresses.slice(0, MAX_RECIPIENTS).map(clipAddress);
  if (addresses.length > MAX_RECIPIENTS) kept.push(`(${addresses.length - MAX_RECIPIENTS} more)`);
  return kept;
}

/** Parses one stored line; anything else (a torn last line, a hand edit) is skipped. */
export function parseEntry(line: string): TraceEntry | undefined {
  if (line.length === 0 || line.length > 64 * 1024) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null) return undefined;
    const entry = value as Partial<TraceEntry>;
    return typeof entry.id === 'string' && typeof entry.at === 'string' && typeof entry.kind === 'string' ? (entry as TraceEntry) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the entry concerns `address` (lower-case) as sender or recipient. */
export function mentions(entry: TraceEntry, address: string): boolean {
  const same = (candidate: string | undefined) => candidate !== undefined && candidate.toLowerCase() === address;
  switch (entry.kind) {
    case 'received':
      return same(entry.from) || entry.to.some(same);
    case 'delivered':
    case 'deferred':
    case 'bounced':
      return same(entry.to) || same(entry.original);
    case 'dsn':
    case 'complaint':
    case 'failed-list':
    case 'suppressed':
      return same(entry.to);
    default:
      return false;
  }
}
