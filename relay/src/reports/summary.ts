/**
 * What the stored reports say, for `mxkit reports` and the ops page: per domain, the sending
 * sources by IP with their SPF, DKIM and DMARC alignment results, the pass rate per day, and
 * whether the published DMARC policy can be tightened (none -> quarantine -> reject, the order
 * RFC 7489 6.6.4/7.2 and M3AAWG's DMARC deployment advice suggest), with the command to do it.
 * TLS-RPT: sessions that succeeded and failed per policy domain, and the failure types.
 */
import { rowPasses } from './dmarc';
import type { ReportKind, ReportResult, StoredReport } from './store';

export interface SourceSummary {
  ip: string;
  messages: number;
  /** Messages whose aligned DKIM / SPF / DMARC passed. */
  dkimPass: number;
  spfPass: number;
  dmarcPass: number;
  reporters: string[];
}

export interface PolicyAdvice {
  current?: string;
  canTighten: boolean;
  next?: 'quarantine' | 'reject';
  command?: string;
  line: string;
}

export interface DomainSummary {
  domain: string;
  reports: number;
  reporters: string[];
  messages: number;
  dmarcPass: number;
  firstDay?: string;
  lastDay?: string;
  days: Array<{ day: string; messages: number; dmarcPass: number }>;
  sources: SourceSummary[];
  advice: PolicyAdvice;
}

export interface TlsSummary {
  domain: string;
  reports: number;
  success: number;
  failure: number;
  failures: Array<{ resultType: string; count: number; mx?: string }>;
}

export interface ReportsSummary {
  since: string;
  dmarc: DomainSummary[];
  tlsRpt: TlsSummary[];
  complaints: Array<{ receivedAt: string; feedbackType: string; recipient?: string; user?: string; queueId?: string; reporter?: string }>;
  counts: Record<ReportKind, Record<ReportResult, number>>;
  problems: Array<{ kind: ReportKind; result: ReportResult; receivedAt: string; sender: string; problem: string }>;
}

/** Minimums before advising a stricter policy: a week of reports and some mail in them. */
export const ADVICE = { minDays: 7, minMessages: 20, minPassRate: 0.98, maxSources: 50 } as const;

const percent = (part: number, whole: number) => (whole === 0 ? '0%' : `${((100 * part) / whole).toFixed(1)}%`);

export function adviseDmarcPolicy(summary: Omit<DomainSummary, 'advice'>, current: string | undefined): PolicyAdvice {
  const policy = current ?? 'none';
  const base = { ...(current ? { current } : {}) };
  if (policy === 'reject') return { ...base, canTighten: false, line: `p=reject is already the strictest DMARC policy: nothing to tighten.` };
  const next = policy === 'quarantine' ? 'reject' : 'quarantine';
  const days = summary.days.length;
  if (days < ADVICE.minDays || summary.messages < ADVICE.minMessages) {
    return { ...base, canTighten: false, line: `Not yet: reports cover ${days} day${days === 1 ? '' : 's'} and ${summary.messages} message${summary.messages === 1 ? '' : 's'}; keep p=${policy} until at least ${ADVICE.minDays} days and ${ADVICE.minMessages} messages are reported.` };
  }
  const rate = summary.dmarcPass / summary.messages;
  if (rate < ADVICE.minPassRate) {
    const failing = summary.sources
      .filter((source) => source.dmarcPass < source.messages)
      .slice(0, 3)
      .map((source) => `${source.ip} (${source.messages - source.dmarcPass} failing)`)
      .join(', ');
    return {
      ...base,
      canTighten: false,
      line: `Not yet: only ${percent(summary.dmarcPass, summary.messages)} of messages pass DMARC (needs ${ADVICE.minPassRate * 100}%). Failing sources: ${failing}. If they send for you, add them to SPF or have them DKIM-sign; if not, they are spoofing you and p=${next} will stop them.`,
    };
  }
  const command = `pulumi config set mxkit:dmarcPolicy ${next}`;
  return {
    ...base,
    canTighten: true,
    next,
    command,
    line: `Yes: ${percent(summary.dmarcPass, summary.messages)} of ${summary.messages} messages over ${days} days pass DMARC; tighten p=${policy} to p=${next}: ${command} && pulumi up`,
  };
}

function summariseDmarc(reports: readonly StoredReport[]): DomainSummary[] {
  const byDomain = new Map<string, StoredReport[]>();
  for (const report of reports) {
    if (!report.dmarc) continue;
    const domain = report.dmarc.policy.domain;
    byDomain.set(domain, [...(byDomain.get(domain) ?? []), report]);
  }
  return [...byDomain.entries()].map(([domain, list]) => {
    const sources = new Map<string, SourceSummary>();
    const days = new Map<string, { messages: number; dmarcPass: number }>();
    let messages = 0;
    let dmarcPass = 0;
    for (const { dmarc } of list) {
      if (!dmarc) continue;
      const day = dmarc.begin.slice(0, 10);
      const today = days.get(day) ?? { messages: 0, dmarcPass: 0 };
      for (const row of dmarc.rows) {
        const source = sources.get(row.sourceIp) ?? { ip: row.sourceIp, messages: 0, dkimPass: 0, spfPass: 0, dmarcPass: 0, reporters: [] };
        source.messages += row.count;
        if (row.dkim === 'pass') source.dkimPass += row.count;
        if (row.spf === 'pass') source.spfPass += row.count;
        if (rowPasses(row)) {
          source.dmarcPass += row.count;
          today.dmarcPass += row.count;
          dmarcPass += row.count;
        }
        if (!source.reporters.includes(dmarc.org) && source.reporters.length < 10) source.reporters.push(dmarc.org);
        sources.set(row.sourceIp, source);
        today.messages += row.count;
        messages += row.count;
      }
      days.set(day, today);
    }
    const latest = [...list].sort((a, b) => (a.dmarc?.end ?? '').localeCompare(b.dmarc?.end ?? '')).pop();
    const dayList = [...days.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([day, counts]) => ({ day, ...counts }));
    const summary = {
      domain,
      reports: list.length,
      reporters: [...new Set(list.map((report) => report.dmarc?.org ?? ''))].slice(0, 20),
      messages,
      dmarcPass,
      ...(dayList.length > 0 ? { firstDay: dayList[0].day, lastDay: dayList[dayList.length - 1].day } : {}),
      days: dayList,
      sources: [...sources.values()].sort((a, b) => b.messages - a.messages).slice(0, ADVICE.maxSources),
    };
    return { ...summary, advice: adviseDmarcPolicy(summary, latest?.dmarc?.policy.p) };
  });
}

function summariseTls(reports: readonly StoredReport[]): TlsSummary[] {
  const byDomain = new Map<string, TlsSummary>();
  for (const report of reports) {
    for (const policy of report.tlsRpt?.policies ?? []) {
      const summary = byDomain.get(policy.domain) ?? { domain: policy.domain, reports: 0, success: 0, failure: 0, failures: [] };
      summary.reports++;
      summary.success += policy.success;
      summary.failure += policy.failure;
      for (const failure of policy.failures) {
        const same = summary.failures.find((entry) => entry.resultType === failure.resultType && entry.mx === failure.mx);
        if (same) same.count += failure.count;
        else if (summary.failures.length < 50) summary.failures.push({ resultType: failure.resultType, count: failure.count, ...(failure.mx ? { mx: failure.mx } : {}) });
      }
      byDomain.set(policy.domain, summary);
    }
  }
  return [...byDomain.values()];
}

export function summariseReports(reports: readonly StoredReport[], since: number): ReportsSummary {
  const zero = (): Record<ReportResult, number> => ({ stored: 0, empty: 0, malformed: 0, not_a_report: 0 });
  const counts: ReportsSummary['counts'] = { dmarc: zero(), tlsRpt: zero(), complaint: zero() };
  for (const report of reports) counts[report.kind][report.result]++;
  return {
    since: new Date(since).toISOString(),
    dmarc: summariseDmarc(reports),
    tlsRpt: summariseTls(reports),
    complaints: reports
      .filter((report) => report.complaint)
      .slice(-50)
      .map(({ receivedAt, complaint }) => ({ receivedAt, feedbackType: complaint?.feedbackType ?? 'abuse', ...pick(complaint) })),
    counts,
    problems: reports
      .filter((report) => report.result !== 'stored')
      .slice(-20)
      .map((report) => ({ kind: report.kind, result: report.result, receivedAt: report.receivedAt, sender: report.sender, problem: report.problem ?? '' })),
  };
}

function pick(complaint: StoredReport['complaint']): { recipient?: string; user?: string; queueId?: string; reporter?: string } {
  if (!complaint) return {};
  const { recipient, user, queueId, reporter } = complaint;
  return { ...(recipient ? { recipient } : {}), ...(user ? { user } : {}), ...(queueId ? { queueId } : {}), ...(reporter ? { reporter } : {}) };
}

/** The summary as text lines (`mxkit reports`). */
export function formatReportsText(summary: ReportsSummary): string[] {
  const lines: string[] = [`Reports received since ${summary.since.slice(0, 10)}`];
  const count = (kind: ReportKind, label: string) => {
    const c = summary.counts[kind];
    lines.push(`  ${label}: ${c.stored} stored, ${c.empty} empty, ${c.malformed} malformed${kind === 'complaint' ? `, ${c.not_a_report} not ARF` : ''}`);
  };
  count('dmarc', 'DMARC aggregate');
  count('tlsRpt', 'TLS-RPT');
  count('complaint', 'complaints (ARF)');
  for (const domain of summary.dmarc) {
    lines.push('', `DMARC for ${domain.domain}: ${domain.reports} reports from ${domain.reporters.join(', ')}; ${domain.messages} messages, ${percent(domain.dmarcPass, domain.messages)} pass (${domain.firstDay} to ${domain.lastDay})`);
    lines.push('  source IP                                 messages  SPF pass  DKIM pass  DMARC pass');
    for (const source of domain.sources) {
      lines.push(`  ${source.ip.padEnd(40)} ${String(source.messages).padStart(9)}  ${percent(source.spfPass, source.messages).padStart(8)}  ${percent(source.dkimPass, source.messages).padStart(9)}  ${percent(source.dmarcPass, source.messages).padStart(10)}`);
    }
    lines.push('  pass rate by day:');
    for (const day of domain.days) lines.push(`    ${day.day}  ${percent(day.dmarcPass, day.messages).padStart(6)} of ${day.messages}`);
    lines.push(`  Can the DMARC policy be tightened? ${domain.advice.line}`);
  }
  for (const tls of summary.tlsRpt) {
    lines.push('', `TLS-RPT for ${tls.domain}: ${tls.reports} reports; ${tls.success} sessions succeeded, ${tls.failure} failed`);
    for (const failure of tls.failures) lines.push(`  ${failure.resultType}: ${failure.count}${failure.mx ? ` (MX ${failure.mx})` : ''}`);
  }
  if (summary.complaints.length > 0) {
    lines.push('', 'Complaints:');
    for (const complaint of summary.complaints) lines.push(`  ${complaint.receivedAt}  ${complaint.feedbackType}  ${complaint.recipient ?? '(recipient redacted)'}  user ${complaint.user ?? 'unknown'}${complaint.queueId ? `  message ${complaint.queueId}` : ''}`);
  }
  if (summary.problems.length > 0) {
    lines.push('', 'Reports that could not be used:');
    for (const problem of summary.problems) lines.push(`  ${problem.receivedAt}  ${problem.kind} ${problem.result} from <${problem.sender}>: ${problem.problem}`);
  }
  if (summary.dmarc.length === 0) lines.push('', 'No DMARC aggregate reports yet: receivers send them about daily once they get mail from your domain.');
  return lines;
}
