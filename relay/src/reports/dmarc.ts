/**
 * DMARC aggregate reports (RFC 7489 7.2 and appendix C): the XML document -> the facts the report
 * page needs, bounded. A document without the required metadata (reporter, report id, date range,
 * published domain) is malformed; a row that makes no sense (no IP, a negative count) is skipped
 * and counted, not fatal. Strings from the report are clipped.
 */
import { isIP } from 'node:net';
import { printable } from '../printable';
import { child, children, parseXml, textAt, XmlError, type XmlElement } from './xml';

export interface AuthResult {
  domain: string;
  result: string;
  selector?: string;
}

export interface DmarcRow {
  sourceIp: string;
  count: number;
  disposition: string;
  /** policy_evaluated: aligned DKIM / SPF results. */
  dkim: string;
  spf: string;
  headerFrom: string;
  dkimAuth: AuthResult[];
  spfAuth: AuthResult[];
}

export interface DmarcReport {
  org: string;
  email?: string;
  reportId: string;
  begin: string;
  end: string;
  policy: { domain: string; p?: string; sp?: string; pct?: number; adkim?: string; aspf?: string };
  rows: DmarcRow[];
  /** Messages in all rows (including rows past MAX_ROWS). */
  messages: number;
  /** Rows not kept (past MAX_ROWS) or skipped as nonsense. */
  droppedRows: number;
}

export class ReportFormatError extends Error {
  override name = 'ReportFormatError';
}

export const MAX_ROWS = 2000;
const MAX_COUNT = 1_000_000_000;

const clip = (text: string | undefined, max = 255) => (text === undefined ? undefined : printable(text, max));
const lower = (text: string | undefined) => clip(text)?.toLowerCase();

function timestamp(text: string | undefined, field: string): string {
  if (text === undefined || !/^\d{1,12}$/.test(text)) throw new ReportFormatError(`date_range ${field} is not a Unix time`);
  return new Date(Number(text) * 1000).toISOString();
}

function authResults(element: XmlElement | undefined, kind: 'dkim' | 'spf'): AuthResult[] {
  return children(element, kind)
    .slice(0, 10)
    .map((entry) => {
      const selector = clip(textAt(entry, 'selector'), 63);
      return { domain: lower(textAt(entry, 'domain')) ?? '', result: lower(textAt(entry, 'result')) ?? 'none', ...(selector ? { selector } : {}) };
    });
}

export function parseDmarcXml(xml: string): DmarcReport {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (error) {
    if (error instanceof XmlError) throw new ReportFormatError(`not well-formed XML: ${error.message}`);
    throw error;
  }
  if (root.name !== 'feedback') throw new ReportFormatError(`the document element is <${root.name}>, not <feedback>`);
  const org = clip(textAt(root, 'report_metadata', 'org_name'));
  const reportId = clip(textAt(root, 'report_metadata', 'report_id'));
  const domain = lower(textAt(root, 'policy_published', 'domain'));
  if (!org) throw new ReportFormatError('report_metadata has no org_name');
  if (!reportId) throw new ReportFormatError('report_metadata has no report_id');
  if (!domain) throw new ReportFormatError('policy_published has no domain');
  const begin = timestamp(textAt(root, 'report_metadata', 'date_range', 'begin'), 'begin');
  const end = timestamp(textAt(root, 'report_metadata', 'date_range', 'end'), 'end');
  if (begin > end) throw new ReportFormatError('date_range ends before it begins');
  const pctText = textAt(root, 'policy_published', 'pct');
  const policy = {
    domain,
    ...optional('p', lower(textAt(root, 'policy_published', 'p'))),
    ...optional('sp', lower(textAt(root, 'policy_published', 'sp'))),
    ...(pctText && /^\d{1,3}$/.test(pctText) ? { pct: Number(pctText) } : {}),
    ...optional('adkim', lower(textAt(root, 'policy_published', 'adkim'))),
    ...optional('aspf', lower(textAt(root, 'policy_published', 'aspf'))),
  };
  const rows: DmarcRow[] = [];
  let messages = 0;
  let droppedRows = 0;
  for (const record of children(root, 'record')) {
    const row = child(record, 'row');
    const sourceIp = textAt(row, 'source_ip') ?? '';
    const countText = textAt(row, 'count') ?? '';
    if (isIP(sourceIp) === 0 || !/^\d{1,10}$/.test(countText) || Number(countText) > MAX_COUNT) {
      droppedRows++;
      continue;
    }
    const count = Number(countText);
    messages += count;
    if (rows.length >= MAX_ROWS) {
      droppedRows++;
      continue;
    }
    const evaluated = child(row, 'policy_evaluated');
    const auth = child(record, 'auth_results');
    rows.push({
      sourceIp,
      count,
      disposition: lower(textAt(evaluated, 'disposition')) ?? 'none',
      dkim: lower(textAt(evaluated, 'dkim')) ?? 'fail',
      spf: lower(textAt(evaluated, 'spf')) ?? 'fail',
      headerFrom: lower(textAt(record, 'identifiers', 'header_from')) ?? domain,
      dkimAuth: authResults(auth, 'dkim'),
      spfAuth: authResults(auth, 'spf'),
    });
  }
  const email = clip(textAt(root, 'report_metadata', 'email'));
  return { org, ...(email ? { email } : {}), reportId, begin, end, policy, rows, messages, droppedRows };
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

/** DMARC passes when either aligned mechanism passes (RFC 7489 4.2). */
export function rowPasses(row: Pick<DmarcRow, 'dkim' | 'spf'>): boolean {
  return row.dkim === 'pass' || row.spf === 'pass';
}
