/**
 * The ops listener's pages (listen.http, loopback by default; docs/deliverability.md): received
 * DMARC/TLS-RPT reports and complaints (/reports, /reports.json) and a message's delivery trace
 * (/trace/<queue-id>, /trace/<queue-id>.json). Read-only. Report contents and remote replies are
 * other people's text: everything is escaped, and the pages run no script.
 */
import { summariseReports, type ReportsSummary } from '../reports/summary';
import { readReports } from '../reports/store';
import { QUEUE_ID_PATTERN } from '../spool/queue-id';
import { describeEntry, endings } from '../trace/format';
import { readTrace, type MessageTrace } from '../trace/reader';

export interface PageResponse {
  status: number;
  type: string;
  body: string;
}

export interface OpsPagesOptions {
  hostname: string;
  reportsDir: string;
  traceDir: string;
  /** Writes buffered trace entries first, so the page shows the latest. */
  flushTrace(): Promise<void>;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222;max-width:70rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
th{background:#f3f3f3}td.num{text-align:right}code{background:#f3f3f3;padding:0 .2rem}
.advice{padding:.5rem .8rem;border-left:4px solid #888;background:#f6f6f6}.advice.yes{border-color:#2a7a2a;background:#e9f6e9}
li{margin:.2rem 0}`;

const page = (title: string, body: string): PageResponse => ({
  status: 200,
  type: 'text/html; charset=utf-8',
  body: `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><link rel="stylesheet" href="/ops.css"></head>\n<body>\n${body}\n</body></html>\n`,
});

const json = (value: unknown): PageResponse => ({ status: 200, type: 'application/json; charset=utf-8', body: `${JSON.stringify(value, null, 2)}\n` });
const notFound = (text: string): PageResponse => ({ status: 404, type: 'text/plain; charset=utf-8', body: `${text}\n` });
const pct = (part: number, whole: number) => (whole === 0 ? '–' : `${((100 * part) / whole).toFixed(1)}%`);

function renderReports(summary: ReportsSummary, hostname: string): string {
  const e = escapeHtml;
  const parts: string[] = [`<h1>Reports received by ${e(hostname)}</h1>`, `<p>Since ${e(summary.since.slice(0, 10))}. <a href="/reports.json">JSON</a></p>`];
  parts.push('<table><thead><tr><th>Kind</th><th>Stored</th><th>Empty</th><th>Malformed</th><th>Not a report</th></tr></thead><tbody>');
  for (const [kind, label] of [['dmarc', 'DMARC aggregate'], ['tlsRpt', 'TLS-RPT'], ['complaint', 'Complaints (ARF)']] as const) {
    const c = summary.counts[kind];
    parts.push(`<tr data-kind="${kind}"><td>${label}</td><td class="num">${c.stored}</td><td class="num">${c.empty}</td><td class="num">${c.malformed}</td><td class="num">${c.not_a_report}</td></tr>`);
  }
  parts.push('</tbody></table>');
  if (summary.dmarc.length === 0) parts.push('<p>No DMARC aggregate reports yet: receivers send them about daily once they get mail from your domain.</p>');
  for (const domain of summary.dmarc) {
    parts.push(`<h2>DMARC: ${e(domain.domain)}</h2>`);
    parts.push(`<p>${domain.reports} reports from ${e(domain.reporters.join(', '))}; ${domain.messages} messages, ${pct(domain.dmarcPass, domain.messages)} pass DMARC.</p>`);
    const command = domain.advice.command ? ` <code>${e(domain.advice.command)}</code>` : '';
    parts.push(`<p class="advice ${domain.advice.canTighten ? 'yes' : 'no'}" data-domain="${e(domain.domain)}"><strong>Can the DMARC policy be tightened?</strong> ${e(domain.advice.line)}${command}</p>`);
    parts.push('<table><thead><tr><th>Source IP</th><th>Messages</th><th>SPF pass</th><th>DKIM pass</th><th>DMARC pass (aligned)</th><th>Reported by</th></tr></thead><tbody>');
    for (const s of domain.sources) {
      parts.push(`<tr><td>${e(s.ip)}</td><td class="num">${s.messages}</td><td class="num">${pct(s.spfPass, s.messages)}</td><td class="num">${pct(s.dkimPass, s.messages)}</td><td class="num">${pct(s.dmarcPass, s.messages)}</td><td>${e(s.reporters.join(', '))}</td></tr>`);
    }
    parts.push('</tbody></table><table><thead><tr><th>Day</th><th>Messages</th><th>DMARC pass</th></tr></thead><tbody>');
    for (const day of domain.days) parts.push(`<tr><td>${e(day.day)}</td><td class="num">${day.messages}</td><td class="num">${pct(day.dmarcPass, day.messages)}</td></tr>`);
    parts.push('</tbody></table>');
  }
  for (const tls of summary.tlsRpt) {
    parts.push(`<h2>TLS-RPT: ${e(tls.domain)}</h2><p>${tls.reports} reports; ${tls.success} TLS sessions succeeded, ${tls.failure} failed.</p>`);
    if (tls.failures.length > 0) parts.push(`<ul>${tls.failures.map((f) => `<li>${e(f.resultType)}: ${f.count}${f.mx ? ` (MX ${e(f.mx)})` : ''}</li>`).join('')}</ul>`);
  }
  if (summary.complaints.length > 0) {
    parts.push('<h2>Complaints</h2><ul>');
    for (const c of summary.complaints) {
      const message = c.queueId ? ` <a href="/trace/${encodeURIComponent(c.queueId)}">message ${e(c.queueId)}</a>` : '';
      parts.push(`<li>${e(c.receivedAt)}: ${e(c.feedbackType)} from ${e(c.recipient ?? '(recipient redacted)')}, sent by user ${e(c.user ?? 'unknown')}${message}</li>`);
    }
    parts.push('</ul>');
  }
  if (summary.problems.length > 0) {
    parts.push('<h2>Reports that could not be used</h2><ul>');
    for (const p of summary.problems) parts.push(`<li>${e(p.receivedAt)}: ${e(p.kind)} ${e(p.result)} from &lt;${e(p.sender)}&gt;: ${e(p.problem)}</li>`);
    parts.push('</ul>');
  }
  return parts.join('\n');
}

function renderTrace(trace: MessageTrace): string {
  const e = escapeHtml;
  const rows = trace.entries.map((entry) => `<tr data-kind="${e(entry.kind)}"><td>${e(entry.at)}</td><td>${e(describeEntry(entry))}</td></tr>`).join('\n');
  return `<h1>Message ${e(trace.id)}</h1>\n<table><thead><tr><th>Time</th><th>Event</th></tr></thead><tbody>\n${rows}\n</tbody></table>\n<h2>How it ended</h2>\n<ul class="endings">${endings(trace).map((line) => `<li>${e(line)}</li>`).join('')}</ul>\n<p><a href="/trace/${encodeURIComponent(trace.id)}.json">JSON</a></p>`;
}

/** Answers a GET for one of the pages, or undefined when the path is not one of them. */
export async function opsPage(options: OpsPagesOptions, path: string, query: URLSearchParams): Promise<PageResponse | undefined> {
  if (path === '/ops.css') return { status: 200, type: 'text/css; charset=utf-8', body: CSS };
  if (path === '/reports' || path === '/reports.json') {
    const days = Math.min(Math.max(Number(query.get('days') ?? '30') || 30, 1), 3650);
    const since = Date.now() - days * 86_400_000;
    const summary = summariseReports(await readReports(options.reportsDir, since), since);
    return path === '/reports.json' ? json(summary) : page(`Reports — ${options.hostname}`, renderReports(summary, options.hostname));
  }
  const trace = /^\/trace\/([0-9A-Z]{19})(\.json)?$/.exec(path);
  if (trace && QUEUE_ID_PATTERN.test(trace[1])) {
    await options.flushTrace();
    const [found] = await readTrace(options.traceDir, { id: trace[1] });
    if (!found) return notFound(`no trace of ${trace[1]} (kept for delivery.traceRetention)`);
    return trace[2] ? json({ ...found, endings: endings(found) }) : page(`Trace ${found.id} — ${options.hostname}`, renderTrace(found));
  }
  return undefined;
}
