/**
 * Records a zone already holds that would fight ours: a registrar's parking MX or SPF, an old DMARC
 * record, a `mail` CNAME. Adding ours beside them does not replace them; it breaks mail in ways
 * that are hard to see (a second SPF record is a permerror for every message). Pure: the Pulumi
 * program feeds it the zone's records (Cloudflare API) and refuses to go on when it finds any.
 */
import type { DnsRecord } from './records';

/** A record as the DNS provider lists it. */
export interface ExistingRecord {
  name: string;
  type: string;
  content?: string;
  comment?: string;
}

export interface ZoneConflict {
  name: string;
  type: string;
  /** The existing record's value, as the provider shows it. */
  existing: string;
  why: string;
}

/** The `comment` every record of a stack carries; it tells our records from anyone else's. */
export function recordComment(stack: string, key: string): string {
  return `mxkit ${stack}: ${key}`;
}

/** TXT records that must be unique at their name, recognised by their version tag. */
const UNIQUE_TXT: Array<{ tag: RegExp; why: string }> = [
  { tag: /^v=spf1(\s|$)/i, why: 'two SPF records make every SPF check a permerror (RFC 7208 §4.5)' },
  { tag: /^v=DMARC1\s*(;|$)/i, why: 'with two DMARC records receivers apply no policy at all (RFC 7489 §6.6.3)' },
  { tag: /^v=DKIM1\s*(;|$)/i, why: 'a selector holds one key; receivers may pick the other one and fail DKIM (RFC 6376 §3.6.2.2)' },
  { tag: /^v=STSv1\s*(;|$)/i, why: 'with two MTA-STS records senders ignore the policy (RFC 8461 §3.1)' },
  { tag: /^v=TLSRPTv1\s*(;|$)/i, why: 'with two TLS-RPT records senders send no reports (RFC 8460 §3)' },
];

/** Cloudflare may list TXT content as quoted character-strings; compare the text they carry. */
function txtText(content: string): string {
  const strings = [...content.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, '$1'));
  return strings.length > 0 ? strings.join('') : content;
}

function why(planned: DnsRecord, existing: ExistingRecord): string | undefined {
  // RFC 1034 §3.6.2 (and RFC 2181 §10.1): a name with a CNAME has no other data.
  if (existing.type === 'CNAME') return `a CNAME at ${planned.name} leaves no room for our ${planned.type} record (RFC 1034 §3.6.2)`;
  if (existing.type !== planned.type) return undefined;
  switch (planned.type) {
    case 'A':
    case 'AAAA':
      return `another ${planned.type} record for ${planned.name}: senders would reach that address part of the time`;
    case 'MX':
      return `another MX for ${planned.name} (a registrar's parking record?): part of the mail would go there`;
    case 'TXT': {
      const rule = UNIQUE_TXT.find((r) => r.tag.test(planned.value));
      return rule && rule.tag.test(txtText(existing.content ?? '')) ? rule.why : undefined;
    }
    default:
      // CAA: a set of records is a union of permissions; ours adds to it (RFC 8659 §4).
      return undefined;
  }
}

const normalise = (name: string) => name.toLowerCase().replace(/\.$/, '');

/** Every existing record, not made by this stack, that would fight one we are about to publish. */
export function findZoneConflicts(existing: readonly ExistingRecord[], planned: readonly DnsRecord[], stack: string): ZoneConflict[] {
  const ours = recordComment(stack, '');
  const conflicts: ZoneConflict[] = [];
  for (const record of existing) {
    if (record.comment?.startsWith(ours)) continue;
    const name = normalise(record.name);
    for (const mine of planned.filter((p) => p.name === name)) {
      const reason = why(mine, record);
      if (reason === undefined) continue;
      conflicts.push({ name, type: record.type, existing: record.content ?? '', why: reason });
      break;
    }
  }
  return conflicts;
}

/** The message `pulumi preview` / `pulumi up` stops with. */
export function describeZoneConflicts(conflicts: readonly ZoneConflict[], zoneId: string): string {
  const lines = conflicts.map((c) => `  ${c.name} ${c.type} ${c.existing}: ${c.why}`);
  return [
    `the Cloudflare zone ${zoneId} already holds ${conflicts.length === 1 ? 'a record' : 'records'} that would break mail next to ours:`,
    ...lines,
    'Delete them (Cloudflare dashboard → DNS → Records) or choose another mxkit:domain / mxkit:hostname, then run pulumi up again. No DNS record was published.',
  ].join('\n');
}
