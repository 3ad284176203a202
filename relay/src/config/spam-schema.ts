/**
 * The `spam` block of the relay config (docs/spam.md): DNS block lists asked at
 * connect, and content scanning by rspamd at DATA. Kept apart from schema.ts so the filter's
 * settings read as one piece.
 */
import { BlockList, isIPv4 } from 'node:net';
import * as z from 'zod';
import { builtOnFirstUse } from './built-on-first-use';
import { DURATION_PATTERN } from './duration';

/** A DNSBL zone: DNS labels (a Spamhaus DQS key is one, up to 63 characters). */
const zonePattern = /^(?=.{1,200}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

/** `127.0.0.2` or `127.0.0.4/30`: DNSBL answers are A records (RFC 5782 §2.1), so IPv4 only. */
function isReturnCode(value: string): boolean {
  const [address, bits, ...rest] = value.split('/');
  if (rest.length > 0 || !isIPv4(address)) return false;
  return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= 32);
}

// Built when a config with a `spam` block is first parsed (schema.ts takes them through z.lazy;
// why: built-on-first-use.ts).
export const dnsblZoneSchema = builtOnFirstUse(() =>
  z
    .object({
      zone: z.string().regex(zonePattern, 'must be a DNS zone like zen.spamhaus.org').transform((zone) => zone.toLowerCase()),
      action: z.enum(['reject', 'flag']),
      // Only these answers count as "listed" (e.g. Spamhaus ZEN's SBL/XBL codes without PBL).
      returnCodes: z
        .array(z.string().refine(isReturnCode, 'must be an IPv4 address like 127.0.0.2 or a range like 127.0.0.4/30'))
        .min(1, 'must list at least one code, or be left out')
        .optional(),
      // How replies, logs and metrics name the list; default: the zone, without a Spamhaus DQS key.
      name: z.string().regex(/^[\x21-\x7e]{1,100}$/, 'must be printable ASCII without spaces').optional(),
    })
    .strict(),
);

const duration = () => z.string().regex(DURATION_PATTERN, 'must be a duration like "500ms", "3s" or "1m"');

const rspamdSchema = builtOnFirstUse(() =>
  z
    .object({
      // Base URL of rspamd's normal worker; the relay posts to <url>/checkv2.
      url: z
        .string()
        .url()
        .refine((url) => /^https?:$/.test(new URL(url).protocol), 'must be an http:// or https:// URL like http://127.0.0.1:11333'),
      flagScore: z.number().default(6),
      // null: never refuse, only flag (stack config mxkit:spam = flag).
      rejectScore: z.number().nullable().default(15),
      timeout: duration().default('10s'),
      onError: z.enum(['accept', 'tempfail']).default('accept'),
    })
    .strict()
    .refine((rspamd) => rspamd.rejectScore === null || rspamd.flagScore <= rspamd.rejectScore, {
      message: 'must not be above rejectScore',
      path: ['flagScore'],
    }),
);

export const spamSchema = builtOnFirstUse(() =>
  z
    .object({
      dnsbl: z
        .array(dnsblZoneSchema())
        .default([])
        .superRefine((zones, ctx) => {
          const seen = new Set<string>();
          zones.forEach((entry, index) => {
            if (seen.has(entry.zone)) ctx.addIssue({ code: 'custom', path: [index, 'zone'], message: 'is listed twice' });
            seen.add(entry.zone);
          });
        }),
      // Each DNSBL query's time limit; a zone that does not answer in time counts as "not listed".
      dnsblTimeout: duration().default('3s'),
      rspamd: rspamdSchema().optional(),
    })
    .strict(),
);

export type SpamConfig = z.output<ReturnType<typeof spamSchema>>;

/** What an absent `spam` block means: no block list, no content scanning. */
export const spamDefaults = (): SpamConfig => ({ dnsbl: [], dnsblTimeout: '3s' });
export type DnsblZoneConfig = z.output<ReturnType<typeof dnsblZoneSchema>>;
export type RspamdConfig = z.output<ReturnType<typeof rspamdSchema>>;

/** The BlockList of a zone's `returnCodes` (undefined: every answer counts). */
export function returnCodeList(codes: readonly string[] | undefined): BlockList | undefined {
  if (!codes) return undefined;
  const list = new BlockList();
  for (const code of codes) {
    const [address, bits] = code.split('/');
    if (bits === undefined) list.addAddress(address, 'ipv4');
    else list.addSubnet(address, Number(bits), 'ipv4');
  }
  return list;
}
