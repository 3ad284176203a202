/**
 * `mxkit reports --config FILE [--days N] [--json]`: the DMARC aggregate and TLS-RPT reports the
 * relay received at its own report addresses (reports.dmarc, reports.tlsRpt) and the complaints
 * (reports.complaints): sending sources with SPF/DKIM/alignment, pass rates by day, whether the
 * DMARC policy can be tightened and the command to do it. The ops page /reports shows the same.
 */
import { readConfigFile } from '../config/load';
import { readReports } from '../reports/store';
import { spoolLayout } from '../spool/layout';
import { flag, integerOption, noMorePositionals, requiredString, type Command, type ParsedCommandLine, type Print } from './contract';

export const reportsCommand: Command = {
  name: 'reports',
  synopsis: 'reports --config FILE [--days N] [--json]',
  summary: 'received DMARC and TLS reports and complaints',
  usage: `usage: mxkit reports --config FILE [--days N] [--json]
  sending sources with SPF/DKIM/alignment, pass rates by day, whether the DMARC policy can be
  tightened, and complaints, over the last --days (default 30)`,
  options: { config: { type: 'string' }, json: { type: 'boolean' }, days: { type: 'string' } },
  run: runReportsCommand,
};

async function runReportsCommand(args: ParsedCommandLine, print: Print): Promise<number> {
  noMorePositionals(args, 0);
  const days = integerOption(args, 'days', 30, 1, 3650, 'a number of days');
  const config = await readConfigFile(requiredString(args, 'config'));
  const since = Date.now() - days * 86_400_000;
  // Loaded when run, not at every relay start (docs/architecture.md "What loads at start").
  const { formatReportsText, summariseReports } = await import('../reports/summary.js');
  const summary = summariseReports(await readReports(spoolLayout(config.spoolDir).reports, since), since);
  if (flag(args, 'json')) print(JSON.stringify(summary, null, 2));
  else {
    if (!config.reports) print('reports are not configured (relay config "reports"): nothing is received');
    formatReportsText(summary).forEach(print);
  }
  return 0;
}
