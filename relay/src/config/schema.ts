/**
 * The relay config (a contract: docs/contracts.md "Relay config"). Parsed once into a typed
 * RelayConfig; every error names the field. Unknown keys are refused so that a typo does not
 * silently fall back to a default.
 */
import { isIP } from 'node:net';
import * as z from 'zod';
import { alertsSchema, reportsSchema, suppressionSchema, throttleSchema, THROTTLE_DEFAULTS } from './deliverability';
import { DURATION_PATTERN } from './duration';
import { spamDefaults, spamSchema } from './spam-schema';
import { normalizeAddress, normalizeDomain } from '../mail/address';
import { authDefaults, authSchema } from './oauth-schema';
import { builtOnFirstUse } from './built-on-first-use';

const duration = z.string().regex(DURATION_PATTERN, 'must be a duration like "90s", "5m", "4h" or "5d"');

const hostnamePattern = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const hostname = z.string().regex(hostnamePattern, 'must be a DNS name like mail.example.com');
// Domains and address patterns go through the relay's one address model (mail/address.ts), so
// `Bücher.example` here and `xn--bcher-kva.example` on the wire are the same value.
const domain = z.string().transform((value, ctx) => {
  const normalized = normalizeDomain(value.replace(/\.$/, ''));
  if (typeof normalized === 'string') return normalized;
  ctx.addIssue({ code: 'custom', message: 'must be a DNS name like example.com' });
  return z.NEVER;
});

const endpoint = z
  .object({
    host: z.string().min(1, 'must name an address to listen on'),
    port: z.number().int().min(0).max(65535),
  })
  .strict();

const cidr = z.string().refine((value) => {
  const [address, bits, ...rest] = value.split('/');
  if (rest.length > 0 || !isIP(address)) return false;
  if (bits === undefined) return true;
  const max = isIP(address) === 4 ? 32 : 128;
  return /^\d+$/.test(bits) && Number(bits) <= max;
}, 'must be a CIDR like 10.0.0.0/8 or 2001:db8::/32');

/**
 * The default port-25 probe target: an MX host of a large mailbox provider, which always listens on
 * 25, so a failed connection means our side (the cloud's egress filter) is shut.
 */
export const DEFAULT_PORT25_PROBE = { host: 'gmail-smtp-in.l.google.com', port: 25, interval: '1h' } as const;

const port25Probe = z
  .object({
    host: z.string().min(1, 'must name a host to probe'),
    port: z.number().int().min(1).max(65535).default(25),
    interval: duration.default('1h'),
  })
  .strict();

const addressPattern = z.string().transform((value, ctx) => {
  const at = value.lastIndexOf('@');
  const domainPart = at > 0 ? normalizeDomain(value.slice(at + 1)) : undefined;
  if (value.slice(0, at) === '*' && typeof domainPart === 'string') return `*@${domainPart}`;
  const normalized = normalizeAddress(value, { utf8: true });
  if (normalized.ok) return normalized.address;
  ctx.addIssue({ code: 'custom', message: 'must be an address like user@example.com or *@example.com' });
  return z.NEVER;
});

// Built when a config with tls.acme is first parsed (taken through z.lazy below; why:
// built-on-first-use.ts).
const acmeSchema = builtOnFirstUse(() =>
  z
    .object({
      directoryUrl: z.string().url(),
      accountKeyFile: z.string().min(1),
      email: z.string().email(),
      names: z.array(hostname).min(1),
      stateDir: z.string().min(1),
      // Optional (docs/tls.md): extra CA PEM trusted for the directory's HTTPS (a test CA such as
      // pebble); how often the certificate's expiry and renewal time are checked; the bounds of the
      // jittered, doubling wait between failed orders.
      caFile: z.string().min(1).optional(),
      checkInterval: duration.default('1m'),
      retryMin: duration.default('1m'),
      retryMax: duration.default('6h'),
    })
    .strict(),
);

export const relayConfigSchema = z
  .object({
    hostname,
    domains: z.array(domain).min(1, 'must list at least one mail domain'),
    listen: z
      .object({
        mx: endpoint.optional(),
        submission: endpoint.optional(),
        submissions: endpoint.optional(),
        http: endpoint.optional(),
        acmeHttp: endpoint.optional(),
        https: endpoint.optional(),
      })
      .strict(),
    tls: z
      .object({
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
        acme: z.lazy(acmeSchema).optional(),
      })
      .strict()
      .optional(),
    dkim: z
      .array(z.object({ domain, selector: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, 'must be a DNS label'), keyFile: z.string().min(1) }).strict())
      .default([]),
    users: z
      .array(
        z
          .object({
            username: z.string().min(1),
            passwordHash: z.string().regex(/^\$scrypt\$/, 'must be a hash printed by `mxkit hash-password`'),
            allowedFrom: z.array(addressPattern).min(1, 'must allow at least one sender address'),
            // Overrides limits.maxMessagesPerUserPerHour for this user.
            maxMessagesPerHour: z.number().int().min(1).optional(),
          })
          .strict(),
      )
      .default([]),
    // OAuth 2.0 bearer tokens for submission (SASL XOAUTH2 / OAUTHBEARER, RFC 7628): oauth-schema.ts.
    auth: z.lazy(authSchema).default(authDefaults),
    trustedNetworks: z.array(cidr).default([]),
    routes: z.array(z.object({ match: addressPattern, forward: z.array(addressPattern).min(1) }).strict()).default([]),
    spoolDir: z.string().min(1),
    delivery: z
      .object({
        dnsServers: z.array(z.string().min(1)).optional(),
        port: z.number().int().min(1).max(65535).default(25),
        smarthost: z
          .object({
            host: z.string().min(1),
            port: z.number().int().min(1).max(65535),
            username: z.string().min(1).optional(),
            passwordFile: z.string().min(1).optional(),
          })
          .strict()
          .nullable()
          .default(null),
        retrySchedule: z.array(duration).min(1).default(['5m', '10m', '30m', '1h', '2h', '4h']),
        maxQueueTime: duration.default('5d'),
        // How long a message that ended without delivery and without a DSN stays in the failed
        // list (`mxkit queue list --failed`) before it is deleted.
        failedRetention: duration.default('7d'),
        // Direct delivery only: where the relay checks that outbound port 25 is open (null: never).
        port25Probe: port25Probe.nullable().default(DEFAULT_PORT25_PROBE),
        // How long `mxkit trace` can look back (docs/deliverability.md).
        traceRetention: duration.default('14d'),
        throttle: z.lazy(throttleSchema).default(THROTTLE_DEFAULTS),
        // Test and `mxkit local` setups only: MX hosts may resolve to loopback/private addresses.
        allowPrivateAddresses: z.boolean().default(false),
      })
      .strict()
      .default({
        port: 25,
        smarthost: null,
        retrySchedule: ['5m', '10m', '30m', '1h', '2h', '4h'],
        maxQueueTime: '5d',
        failedRetention: '7d',
        port25Probe: DEFAULT_PORT25_PROBE,
        traceRetention: '14d',
        throttle: THROTTLE_DEFAULTS,
        allowPrivateAddresses: false,
      }),
    forwarding: z
      .object({
        // RFC 7960 4.1.3: rewrite the From of forwarded mail to an address of ours ("X via domain").
        // auto: only when a smarthost is used (it demands verified senders, e.g. Amazon SES).
        rewriteFrom: z.enum(['auto', 'always', 'never']).default('auto'),
        // The SRS key (delivery/srs.ts), shared by every host of a deployment so that a bounce to
        // an address one host made is accepted by whichever MX it reaches. Without it: a key kept
        // in the spool, made on first use (one host).
        srsSecretFile: z.string().min(1).optional(),
      })
      .strict()
      .default({ rewriteFrom: 'auto' }),
    limits: z
      .object({
        maxMessageBytes: z.number().int().min(1024).default(26_214_400),
        maxRecipients: z.number().int().min(1).default(100),
        maxConnectionsPerIp: z.number().int().min(1).default(20),
        // All sessions on all listeners together: bounds memory whatever the number of clients.
        maxConnections: z.number().int().min(1).default(1000),
        idleTimeout: duration.default('5m'),
        authFailuresPerIp: z.number().int().min(1).default(5),
        // MAIL FROM commands an authenticated user may give per sliding hour (unset: no limit).
        maxMessagesPerUserPerHour: z.number().int().min(1).optional(),
        // Bytes of messages being received at once, all sessions together: past it, 452 4.3.1.
        maxInFlightBytes: z.number().int().min(1024).default(1024 * 1024 * 1024),
        // Connection slots of maxConnections kept for each SMTP listener (a flood on one cannot take them).
        reservedConnections: z.number().int().min(0).default(50),
        // Deadlines trickling cannot reset (intake/session-watchdog.ts).
        tlsHandshakeTimeout: duration.default('10s'),
        sessionTimeout: duration.default('30m'),
        minDataRate: z.number().int().min(1).default(500),
        // AUTH failures (15-minute window) past which a password is not even checked.
        authFailuresPerAccount: z.number().int().min(1).default(10),
        authFailuresTotal: z.number().int().min(1).default(100),
      })
      .strict()
      .default({
        maxMessageBytes: 26_214_400,
        maxRecipients: 100,
        maxConnectionsPerIp: 20,
        maxConnections: 1000,
        idleTimeout: '5m',
        authFailuresPerIp: 5,
        maxInFlightBytes: 1024 * 1024 * 1024,
        reservedConnections: 50,
        tlsHandshakeTimeout: '10s',
        sessionTimeout: '30m',
        minDataRate: 500,
        authFailuresPerAccount: 10,
        authFailuresTotal: 100,
      }),
    mtaSts: z
      .object({
        mode: z.enum(['testing', 'enforce']),
        maxAge: duration,
        // The policy to serve instead of one built from mode, maxAge and hostname: a deployment of
        // several hosts lists every MX, kept current outside this file (re-read when it changes).
        policyFile: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    spam: z.lazy(spamSchema).default(spamDefaults),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).strict().optional(),
    reports: z.lazy(reportsSchema).optional(),
    suppression: z.lazy(suppressionSchema).default({ enabled: true, maxEntries: 100_000 }),
    alerts: z.lazy(alertsSchema).optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const needsTls = config.listen.submission || config.listen.submissions || config.listen.mx || config.listen.https;
    const hasFiles = config.tls?.certFile !== undefined && config.tls?.keyFile !== undefined;
    if (config.tls?.certFile !== undefined && config.tls.keyFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tls', 'keyFile'], message: 'is required when tls.certFile is set' });
    }
    if (config.tls?.keyFile !== undefined && config.tls.certFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tls', 'certFile'], message: 'is required when tls.keyFile is set' });
    }
    if (needsTls && !hasFiles && !config.tls?.acme) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'needs certFile and keyFile (or acme): the SMTP listeners offer TLS' });
    }
    if (config.tls?.acme && !config.listen.acmeHttp) {
      ctx.addIssue({ code: 'custom', path: ['listen', 'acmeHttp'], message: 'is required with tls.acme: HTTP-01 challenges (RFC 8555 §8.3) are answered there' });
    }
    config.routes.forEach((route, index) => {
      const routeDomain = route.match.split('@')[1].toLowerCase();
      if (!config.domains.includes(routeDomain)) {
        ctx.addIssue({ code: 'custom', path: ['routes', index, 'match'], message: `domain ${routeDomain} is not in domains` });
      }
    });
    // RFC 4954: a username without a password can never authenticate; refuse it here, by name.
    const smarthost = config.delivery.smarthost;
    if (smarthost?.username !== undefined && smarthost.passwordFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['delivery', 'smarthost', 'passwordFile'], message: 'is required when delivery.smarthost.username is set' });
    }
    if (smarthost?.passwordFile !== undefined && smarthost.username === undefined) {
      ctx.addIssue({ code: 'custom', path: ['delivery', 'smarthost', 'username'], message: 'is required when delivery.smarthost.passwordFile is set' });
    }
    for (const kind of ['dmarc', 'tlsRpt', 'complaints'] as const) {
      config.reports?.[kind].forEach((address, index) => {
        const reportDomain = address.slice(address.lastIndexOf('@') + 1);
        if (!config.domains.includes(reportDomain)) ctx.addIssue({ code: 'custom', path: ['reports', kind, index], message: `domain ${reportDomain} is not in domains` });
      });
    }
    // Several keys per domain are allowed (rotation: the first signs); one selector twice is not.
    const selectors = new Set<string>();
    config.dkim.forEach((entry, index) => {
      const identity = `${entry.selector.toLowerCase()}._domainkey.${entry.domain}`;
      if (selectors.has(identity)) ctx.addIssue({ code: 'custom', path: ['dkim', index, 'selector'], message: `${identity} is listed twice` });
      selectors.add(identity);
    });
    const smtpListeners = [config.listen.mx, config.listen.submission, config.listen.submissions].filter(Boolean).length;
    if (config.limits.reservedConnections * smtpListeners > config.limits.maxConnections) {
      ctx.addIssue({ code: 'custom', path: ['limits', 'reservedConnections'], message: `${smtpListeners} listeners x ${config.limits.reservedConnections} reserved is more than limits.maxConnections` });
    }
    const names = new Set<string>();
    config.users.forEach((user, index) => {
      if (names.has(user.username)) ctx.addIssue({ code: 'custom', path: ['users', index, 'username'], message: 'is listed twice' });
      names.add(user.username);
    });
  });

/** The config as written in the JSON file (defaults optional). */
export type RelayConfigInput = z.input<typeof relayConfigSchema>;
/** The config after parsing: defaults filled in, domains normalised. */
export type RelayConfig = z.output<typeof relayConfigSchema>;
export type ListenerName = keyof RelayConfig['listen'];

/** One line naming the first offending field, e.g. `listen.mx.port: expected number`. */
export function describeConfigError(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.reduce<string>(
        (text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)),
        '',
      );
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => `${path ? `${path}.` : ''}${key}: is not a known setting`).join('; ');
      }
      const message = /received undefined$/.test(issue.message) ? 'is required' : issue.message;
      return `${path || '(root)'}: ${message}`;
    })
    .join('; ');
}

export function parseRelayConfig(document: unknown): RelayConfig {
  // jitless: zod would otherwise compile a parser (new Function) for each object on the first
  // parse, which pays off for hot parsing; the config is parsed once per start or reload, and the
  // compiling cost ~10 ms of every start (docs/benchmarks.md, issue 17 round 8).
  const result = relayConfigSchema.safeParse(document, { jitless: true });
  if (!result.success) throw new ConfigError(describeConfigError(result.error));
  return result.data;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}
