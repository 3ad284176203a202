/**
 * The inbox page's HTML: a table of received messages, each verdict a cell with the result as text
 * (and a colour), the details in a tooltip, and a link to the raw source. Every value comes from
 * mail anyone could send, so everything is escaped; the page runs no inline script.
 */
import type { SpamScore, StoredMessage } from './inbox-store';
import { CHECKS, type Verdict } from './verdicts';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const GOOD = new Set(['pass']);
const BAD = new Set(['fail', 'permerror', 'temperror', 'softfail', 'policy']);

function verdictCell(check: string, verdict: Verdict): string {
  const tone = GOOD.has(verdict.result) ? 'pass' : BAD.has(verdict.result) ? 'fail' : 'neutral';
  return `<td class="verdict ${tone}" data-check="${check}" title="${escapeHtml(verdict.detail)}">${escapeHtml(`${check}=${verdict.result}`)}</td>`;
}

/** rspamd's score and action, and every symbol (strongest first) in a list that opens on click. */
function spamCell(spam: SpamScore | null | undefined): string {
  if (!spam) return '<td class="spam neutral" data-check="spam" title="no rspamd was running">not scanned</td>';
  const tone = spam.action === 'no action' ? 'pass' : /reject/.test(spam.action) ? 'fail' : 'neutral';
  const symbols = spam.symbols.map((symbol) => `<li>${escapeHtml(`${symbol.name} ${symbol.score.toFixed(2)}`)}</li>`).join('');
  return (
    `<td class="spam ${tone}" data-check="spam"><span class="score">${escapeHtml(spam.score.toFixed(2))}</span> ${escapeHtml(spam.action)}` +
    `<details><summary>${spam.symbols.length} symbols</summary><ul class="symbols">${symbols}</ul></details></td>`
  );
}

function row(message: StoredMessage, traceUrl: (queueId: string) => string | undefined): string {
  const trace = message.queueId ? traceUrl(message.queueId) : undefined;
  const tls = message.tls ? `${message.tls.protocol}` : 'none';
  const cells = [
    `<td>${escapeHtml(message.receivedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</td>`,
    `<td>${escapeHtml(message.from)}</td>`,
    `<td class="envelope">${escapeHtml(message.envelope.mailFrom || '<>')}</td>`,
    `<td>${escapeHtml(message.envelope.rcptTo.join(', '))}</td>`,
    `<td class="subject">${escapeHtml(message.subject || '(no subject)')}</td>`,
    `<td class="tls ${message.tls ? 'pass' : 'fail'}" title="${escapeHtml(message.tls?.cipher ?? 'plain text')}">${escapeHtml(tls)}</td>`,
    ...CHECKS.map((check) => verdictCell(check, message.verdicts[check])),
    spamCell(message.spam),
    `<td><a href="/messages/${encodeURIComponent(message.id)}/raw">raw source</a></td>`,
    `<td class="trace">${trace ? `<a href="${escapeHtml(trace)}">trace ${escapeHtml(message.queueId ?? '')}</a>` : ''}</td>`,
  ];
  return `<tr data-id="${escapeHtml(message.id)}">${cells.join('')}</tr>`;
}

export function renderInboxPage(messages: StoredMessage[], context: { domain: string; mta: string; traceUrl?: (queueId: string) => string | undefined }): string {
  const traceUrl = context.traceUrl ?? (() => undefined);
  const body =
    messages.length === 0
      ? `<p class="empty">No mail yet. The terminal running <code>mxkit local</code> shows how to send some.</p>`
      : `<table>
<thead><tr><th>Received</th><th>From</th><th>Envelope sender</th><th>To</th><th>Subject</th><th>TLS</th><th>SPF</th><th>DKIM</th><th>DMARC</th><th>ARC</th><th>Spam score (rspamd)</th><th>Source</th><th>Relay trace</th></tr></thead>
<tbody>
${messages.map((message) => row(message, traceUrl)).join('\n')}
</tbody>
</table>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(context.domain)} inbox — mxkit local</title>
<link rel="stylesheet" href="/inbox.css">
<script src="/inbox.js" defer></script>
</head>
<body>
<h1>${escapeHtml(context.domain)} inbox</h1>
<p>What the receiving "internet" MTA <code>${escapeHtml(context.mta)}</code> got, with the verdicts of its SPF, DKIM, DMARC and ARC checks, when rspamd runs the spam score and symbols its filter gives each message, and a link to each message's delivery trace on the relay (<code>mxkit trace</code>). Newest first; the page reloads when mail arrives.</p>
${body}
</body>
</html>
`;
}

export const INBOX_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}
td.pass{background:#e3f6e3}
td.fail{background:#fbe3e3}
td.neutral{background:#f6f3e0}
code{background:#f3f3f3;padding:0 .2rem}
td.spam .score{font-weight:bold}
ul.symbols{margin:.2rem 0;padding-left:1rem;font:12px/1.3 monospace}
body[data-live=on] h1::after{content:" · live";color:#2a7a2a;font-size:.6em}
body[data-live=off] h1::after{content:" · disconnected: reload the page";color:#a33;font-size:.6em}
`;

/**
 * Reload when the server announces a new message (Server-Sent Events): no polling, no inline
 * script. body[data-live] says whether the stream is connected (shown, and what tests wait for).
 */
export const INBOX_JS = `const events = new EventSource('/events');
events.addEventListener('open', () => (document.body.dataset.live = 'on'));
events.addEventListener('error', () => (document.body.dataset.live = 'off'));
events.addEventListener('message', () => location.reload());
`;
