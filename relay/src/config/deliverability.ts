/**
 * Config sections of the closed deliverability loop (docs/deliverability.md): per-provider
 * throttling (`delivery.throttle`), the report and complaint mailboxes the relay keeps itself
 * (`reports`), the suppression list (`suppression`) and alert delivery (`alerts`). Kept apart from
 * schema.ts so the main schema stays readable; schema.ts composes them.
 */
import * as z from 'zod';
import { builtOnFirstUse } from './built-on-first-use';
import { normalizeAddress } from '../mail/address';
import { DURATION_PATTERN } from './duration';

const duration = () => z.string().regex(DURATION_PATTERN, 'must be a duration like "90s", "5m", "4h" or "5d"');
const hostnamePattern = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

// Each section's schema is built when a config with that section is first parsed (schema.ts takes
// them through z.lazy; why: built-on-first-use.ts).

/** One provider: the MX host suffixes that identify it, and how hard it may be pushed. */
const providerSchema = builtOnFirstUse(() => {
  const suffix = z
    .string()
    .regex(hostnamePattern, 'must be a DNS name suffix like outlook.com')
    .transform((name) => name.toLowerCase().replace(/\.$/, ''));
  return z
    .object({
      name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be a short lower-case name like gmail'),
      mxSuffixes: z.array(suffix).min(1, 'must list at least one MX host suffix'),
      concurrency: z.number().int().min(1).max(100),
      /** 0: no rate limit until the provider pushes back. */
      messagesPerMinute: z.number().int().min(0).max(100_000),
    })
    .strict();
});

/** A reply pattern (case-insensitive text, e.g. `[TSS04]`, `4.7.28`) and the pause it earns. */
const throttleRuleSchema = builtOnFirstUse(() =>
  z
    .object({
      match: z.string().min(2).max(200),
      coolOff: duration(),
      /** Repeated hits double the pause up to this (default: 16 times coolOff). */
      maxCoolOff: duration().optional(),
      /** `blocklisted` also raises the blocklisted alert. */
      event: z.enum(['cool-off', 'blocklisted']).default('cool-off'),
    })
    .strict(),
);

export const THROTTLE_DEFAULT_GROUP = { concurrency: 4, messagesPerMinute: 0 } as const;

export const throttleSchema = builtOnFirstUse(() =>
  z
    .object({
      /** Merged over the built-in table (delivery/throttle-defaults.ts) by name. */
      providers: z.array(providerSchema()).default([]),
      /** Checked before the built-in rules. */
      rules: z.array(throttleRuleSchema()).default([]),
      /** Every destination that matches no provider: one group per domain. */
      default: z
        .object({ concurrency: z.number().int().min(1).max(100), messagesPerMinute: z.number().int().min(0).max(100_000) })
        .strict()
        .default({ ...THROTTLE_DEFAULT_GROUP }),
      /** Successful transactions in a row before a slowed-down group's rate steps back up. */
      rampAfter: z.number().int().min(1).max(10_000).default(10),
      /** The longest an attempt waits for its turn before it is rescheduled instead. */
      maxWait: duration().default('30s'),
    })
    .strict(),
);

export const THROTTLE_DEFAULTS: ThrottleConfig = {
  providers: [],
  rules: [],
  default: { ...THROTTLE_DEFAULT_GROUP },
  rampAfter: 10,
  maxWait: '30s',
};

/**
 * Mailboxes the relay keeps itself instead of forwarding: DMARC aggregate reports (RFC 7489 7.2),
 * TLS-RPT reports (RFC 8460) and ARF complaints (RFC 5965). Each address must be in `domains`.
 */
export const reportsSchema = builtOnFirstUse(() => {
  // The relay's one address model (mail/address.ts), as for routes: the intake compares these with
  // recipients normalised the same way.
  const address = z.string().transform((value, ctx) => {
    const normalized = normalizeAddress(value, { utf8: true });
    if (normalized.ok) return normalized.address;
    ctx.addIssue({ code: 'custom', message: 'must be an address like dmarc-reports@example.com' });
    return z.NEVER;
  });
  return z
    .object({
      dmarc: z.array(address).default([]),
      tlsRpt: z.array(address).default([]),
      complaints: z.array(address).default([]),
      retention: duration().default('180d'),
      maxStored: z.number().int().min(10).max(1_000_000).default(5000),
    })
    .strict();
});

export const suppressionSchema = builtOnFirstUse(() =>
  z
    .object({
      /** Hard bounces and complaints add recipients; submissions to them are refused. */
      enabled: z.boolean().default(true),
      maxEntries: z.number().int().min(100).max(10_000_000).default(100_000),
    })
    .strict(),
);

export const alertsSchema = builtOnFirstUse(() =>
  z
    .object({
      /** http(s) URL receiving one POST per event (Alertmanager, a chat webhook, anything). */
      webhook: z
        .string()
        .url('must be an http(s) URL')
        .refine((value) => /^https?:\/\//i.test(value), 'must be an http(s) URL'),
      /** `json`: one object with a `text` line (Slack/Mattermost style); `alertmanager`: its v2 API body. */
      format: z.enum(['json', 'alertmanager']).default('json'),
      /** A queued message older than this raises queue-stuck. */
      queueStuckAfter: duration().default('2h'),
      /** A served certificate expiring within this raises certificate-expiry. */
      certificateWarning: duration().default('14d'),
      /** The same alert (event and subject) is sent again at most this often while it lasts. */
      repeatInterval: duration().default('6h'),
    })
    .strict(),
);

export type ThrottleConfig = z.output<ReturnType<typeof throttleSchema>>;
export type ThrottleRule = z.output<ReturnType<typeof throttleRuleSchema>>;
export type ProviderConfig = z.output<ReturnType<typeof providerSchema>>;
export type ReportsConfig = z.output<ReturnType<typeof reportsSchema>>;
export type AlertsConfig = z.output<ReturnType<typeof alertsSchema>>;
export type SuppressionConfig = z.output<ReturnType<typeof suppressionSchema>>;
