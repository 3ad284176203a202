/**
 * What a config reload (SIGHUP) may change in a running relay. Users, routes, limits, spam and DKIM
 * settings, OAuth providers, trusted networks, retries and the like take effect for new sessions
 * and new delivery attempts. The sockets the relay listens on, the spool folder, the TLS and MTA-STS
 * set-up, what delivery's long-lived parts were built with (the DNS servers, the smarthost, the
 * throttle, the port-25 probe, the SRS key) and the deliverability loop (trace, report mailboxes, suppression,
 * alerts: deliverability.ts) are bound at start: a reload that changes them logs that a restart
 * is needed and keeps running with the old values, never with half of each.
 */
import { createHash } from 'node:crypto';
import type { RelayConfig } from './schema';

/** Settings only a restart applies (top-level keys and `delivery.` keys). */
const RESTART_ONLY = ['listen', 'spoolDir', 'tls', 'mtaSts', 'reports', 'suppression', 'alerts'] as const satisfies readonly (keyof RelayConfig)[];
const RESTART_ONLY_DELIVERY = ['dnsServers', 'smarthost', 'throttle', 'port25Probe', 'traceRetention', 'allowPrivateAddresses'] as const satisfies readonly (keyof RelayConfig['delivery'])[];
/** Limits the connection tracker, the AUTH throttles, the byte budget and the session watchdog were built with. */
const RESTART_ONLY_LIMITS = [
  'maxConnections', 'maxConnectionsPerIp', 'reservedConnections', 'maxInFlightBytes', 'idleTimeout', 'tlsHandshakeTimeout',
  'sessionTimeout', 'minDataRate', 'authFailuresPerIp', 'authFailuresPerAccount', 'authFailuresTotal',
] as const satisfies readonly (keyof RelayConfig['limits'])[];

export interface PinnedConfig {
  /** The new config with every restart-only setting as the running relay has it. */
  config: RelayConfig;
  /** Settings the new file changes that wait for a restart, e.g. `listen.mx`, `spoolDir`. */
  needsRestart: string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function changedPaths(key: string, running: unknown, next: unknown): string[] {
  if (same(running, next)) return [];
  const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isRecord(running) || !isRecord(next)) return [key];
  const fields = new Set([...Object.keys(running), ...Object.keys(next)]);
  return [...fields].filter((field) => !same(running[field], next[field])).map((field) => `${key}.${field}`);
}

export function pinRestartOnly(running: RelayConfig, next: RelayConfig): PinnedConfig {
  const needsRestart = [
    ...RESTART_ONLY.flatMap((key) => changedPaths(key, running[key], next[key])),
    ...RESTART_ONLY_DELIVERY.filter((key) => !same(running.delivery[key], next.delivery[key])).map((key) => `delivery.${key}`),
    ...RESTART_ONLY_LIMITS.filter((key) => !same(running.limits[key], next.limits[key])).map((key) => `limits.${key}`),
    // The SRS key is read once at start (delivery.ts srsFor); bounces must reverse with the key in use.
    ...(same(running.forwarding.srsSecretFile, next.forwarding.srsSecretFile) ? [] : ['forwarding.srsSecretFile']),
  ];
  const delivery: RelayConfig['delivery'] = { ...next.delivery };
  for (const key of RESTART_ONLY_DELIVERY) Object.assign(delivery, { [key]: running.delivery[key] });
  const limits: RelayConfig['limits'] = { ...next.limits };
  for (const key of RESTART_ONLY_LIMITS) Object.assign(limits, { [key]: running.limits[key] });
  const forwarding: RelayConfig['forwarding'] = { ...next.forwarding, srsSecretFile: running.forwarding.srsSecretFile };
  if (forwarding.srsSecretFile === undefined) delete forwarding.srsSecretFile;
  const config: RelayConfig = { ...next, delivery, limits, forwarding };
  for (const key of RESTART_ONLY) Object.assign(config, { [key]: running[key] });
  return { config, needsRestart };
}

/** A short, stable name for a config file's content: logs and a metric say which revision runs. */
export function configRevision(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}
