/**
 * The vocabulary of `mxkit check`: one result per check, each with a status and, when it is not a
 * pass, a concrete fix. Kept free of I/O so the report format and the exit code are pure functions.
 */

export type CheckStatus = 'pass' | 'warn' | 'fail';
export type CheckCategory = 'dns' | 'service' | 'reputation';

export interface CheckResult {
  /** Stable machine name, e.g. `dns.ptr` or `service.port-25`; scripts match on it. */
  id: string;
  category: CheckCategory;
  status: CheckStatus;
  /** What was found, in one line: "PTR of 203.0.113.10 is mail.example.com". */
  summary: string;
  /** What to do about it; present on every warn and fail. */
  fix?: string;
}

export interface CheckOptions {
  domain: string;
  /** The mail host; default: the domain's first MX target, else mail.<domain>. */
  host?: string;
  /** DKIM selector; default mx1, the infra's default (infra/config.ts). */
  selector: string;
  /** `HOST:PORT` of the only DNS server asked (all of MX, A, TXT, PTR, CAA and blocklists). */
  dnsServer?: string;
  ports: { smtp: number; submission: number; submissions: number; https: number };
  /** Ports that must not be reachable on the host (22 by default: SSH is off unless mxkit:sshCidr). */
  closedPorts: number[];
  /** DNS blocklist zones (RFC 5782), e.g. zen.spamhaus.org. */
  dnsblZones: string[];
  /** Extra trusted CA certificates (PEM), for self-signed test and `local` certificates. */
  ca?: string;
  /** Where the open-relay self-test tries to relay to: must be a domain the host does not serve. */
  relayTestRecipient: string;
  /** Per connection / per DNS query timeout. */
  timeoutMs: number;
  /** The relay's metrics endpoint, for its outbound port-25 verdict (outbound-check.ts); absent: not checked. */
  relayMetrics?: { url: string; required: boolean };
  /** Clock for certificate expiry, injectable so tests do not depend on the date. */
  now?: () => Date;
}

export interface CheckReport {
  domain: string;
  host: string;
  addresses: string[];
  checks: CheckResult[];
  summary: Record<CheckStatus, number>;
  /** False when anything failed: the exit code is non-zero. */
  ok: boolean;
}

export const pass = (id: string, category: CheckCategory, summary: string): CheckResult => ({ id, category, status: 'pass', summary });
export const warn = (id: string, category: CheckCategory, summary: string, fix: string): CheckResult => ({ id, category, status: 'warn', summary, fix });
export const fail = (id: string, category: CheckCategory, summary: string, fix: string): CheckResult => ({ id, category, status: 'fail', summary, fix });
