/**
 * `mxkit reports --config FILE [--days N] [--json]`: the DMARC aggregate and TLS-RPT reports the
 * relay received at its own report addresses (reports.dmarc, reports.tlsRpt) and the complaints
 * (reports.complaints): sending sources with SPF/DKIM/alignment, pass rates by day, whether the
 * DMARC policy can be tightened and the command to do it. The ops page /reports shows the same.
 */
import { readConfigFile } from '../config/load';
import { readReports } from '../reports/store';
import { formatReportsText, summariseReports } from '../reports/summary';
import { spoolLayout } from '../spool/layout';
import { optionalOption, requireOption, UsageError, type ParsedArgs } from './args';

export const REPORTS_USAGE = 'usage: mxkit reports --config FILE [--days N] [--json]';

export async function runReportsCommand(args: ParsedArgs, print: (line: string) => void): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError(REPORTS_USAGE);
  const daysText = optionalOption(args, 'days') ?? '30';
  if (!/^\d+$/.test(daysText) || Number(daysText) < 1 || Number(daysText) > 3650) throw new UsageError('--days must be a number of days from 1 to 3650');
  const config = await readConfigFile(requireOption(args, 'config'));
  const since = Date.now() - Number(daysText) * 86_400_000;
  const summary = summariseReports(await readReports(spoolLayout(config.spoolDir).reports, since), since);
  if (args.options.has('json')) print(JSON.stringify(summary, null, 2));
  else {
    if (!config.reports) print('reports are not configured (relay config "reports"): nothing is received');
    formatReportsText(summary).forEach(print);
  }
  return 0;
}
