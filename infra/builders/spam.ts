/**
 * Stack config `mxkit:spam` and `mxkit:dnsbl` → the relay's `spam` block and the rspamd beside it.
 * Pure. The modes: `reject` (default) refuses at rspamd's usual reject score and flags from its
 * add-header score (rspamd.com/doc/configuration/metrics.html: 15 and 6); `flag` only flags; `off`
 * runs no rspamd at all (block lists still apply when listed).
 */
import type { RelayConfigInput } from '../../relay/src/config/schema';
import type { DnsblZoneConfig } from '../../relay/src/config/spam-schema';

export const SPAM_MODES = ['off', 'flag', 'reject'] as const;
export type SpamMode = (typeof SPAM_MODES)[number];

/** rspamd's normal worker on the host, loopback only (its container binds 127.0.0.1). */
export const RSPAMD_SCAN_SOCKET = '127.0.0.1:11333';
/** Its controller (web UI, maps, statistics), loopback only: `ssh -L` or SSM port forwarding to reach it. */
export const RSPAMD_CONTROLLER_SOCKET = '127.0.0.1:11334';

export const SPAM_SCORES = { flagScore: 6, rejectScore: 15 } as const;

/** `mxkit:dnsbl` entries: a zone name, or a zone with its own action, return codes and display name. */
export type DnsblEntry = string | { zone: string; action?: 'reject' | 'flag'; returnCodes?: string[]; name?: string };

export function thresholdsFor(mode: SpamMode): { flagScore: number; rejectScore: number | null } {
  return { flagScore: SPAM_SCORES.flagScore, rejectScore: mode === 'reject' ? SPAM_SCORES.rejectScore : null };
}

/** A zone given by name alone takes the mode's action: refuse when mxkit:spam is reject, else flag. */
export function dnsblZones(mode: SpamMode, entries: readonly DnsblEntry[]): DnsblZoneConfig[] {
  const defaultAction = mode === 'reject' ? 'reject' : 'flag';
  return entries.map((entry) => {
    const zone = typeof entry === 'string' ? { zone: entry } : entry;
    return {
      zone: zone.zone.toLowerCase(),
      action: zone.action ?? defaultAction,
      ...(zone.returnCodes ? { returnCodes: zone.returnCodes } : {}),
      ...(zone.name ? { name: zone.name } : {}),
    };
  });
}

/** The relay's `spam` block; undefined when nothing is filtered. */
export function relaySpamConfig(mode: SpamMode, entries: readonly DnsblEntry[]): RelayConfigInput['spam'] {
  const dnsbl = dnsblZones(mode, entries);
  if (mode === 'off' && dnsbl.length === 0) return undefined;
  return {
    dnsbl,
    ...(mode === 'off' ? {} : { rspamd: { url: `http://${RSPAMD_SCAN_SOCKET}`, ...thresholdsFor(mode), timeout: '10s', onError: 'accept' as const } }),
  };
}

/**
 * A Spamhaus DQS key is the first label of its zone (`<key>.zen.dq.spamhaus.net`): it is a secret,
 * so the relay config shown as a plain stack output carries a placeholder instead.
 */
export function redactDnsblKeys(spam: RelayConfigInput['spam']): RelayConfigInput['spam'] {
  if (!spam?.dnsbl) return spam;
  return { ...spam, dnsbl: spam.dnsbl.map((entry) => ({ ...entry, zone: entry.zone.replace(/^[^.]+(?=\..+\.dq\.spamhaus\.(?:net|com)$)/i, '(secret)') })) };
}
