/** Turning results into what people and scripts read: one line per check, a summary, and --json. */
import type { CheckReport, CheckResult, CheckStatus } from './types';

export function summarise(domain: string, host: string, addresses: string[], checks: CheckResult[]): CheckReport {
  const summary: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0 };
  for (const check of checks) summary[check.status]++;
  return { domain, host, addresses, checks, summary, ok: summary.fail === 0 };
}

const LABEL: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

/** One line per check: `FAIL dns.ptr.203.0.113.10  PTR of … — fix: set PTR of …`. */
export function formatText(report: CheckReport): string {
  const width = Math.max(...report.checks.map((check) => check.id.length), 0);
  const lines = report.checks.map((check) => {
    const fix = check.fix && check.status !== 'pass' ? ` — fix: ${check.fix}` : '';
    return `${LABEL[check.status]} ${check.id.padEnd(width)}  ${check.summary}${fix}`;
  });
  const { pass, warn, fail } = report.summary;
  lines.push(`${report.domain} (${report.host}${report.addresses.length ? ` ${report.addresses.join(', ')}` : ''}): ${pass} pass, ${warn} warn, ${fail} fail`);
  return `${lines.join('\n')}\n`;
}

export function formatJson(report: CheckReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** 0 when nothing failed (warnings do not fail a run), 1 otherwise. */
export function exitCode(report: CheckReport): number {
  return report.ok ? 0 : 1;
}
