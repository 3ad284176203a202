/**
 * The relay's own mailboxes (`reports.dmarc`, `reports.tlsRpt`, `reports.complaints`): the intake
 * accepts them on `mx` like routed addresses, and delivery stores what arrives for them
 * (reports/sink.ts) instead of forwarding it. One lookup for both sides.
 */
import type { RelayConfig } from '../config/schema';
import type { LocalMailbox } from '../delivery/events';

const KINDS: readonly LocalMailbox[] = ['dmarc', 'tlsRpt', 'complaints'];

/** Which own mailbox `address` is (local part case-insensitive, like routes), if any. */
export function localMailboxOf(config: Pick<RelayConfig, 'reports'>, address: string): LocalMailbox | undefined {
  if (!config.reports) return undefined;
  const wanted = address.toLowerCase();
  return KINDS.find((kind) => config.reports?.[kind].some((candidate) => candidate.toLowerCase() === wanted));
}
