/**
 * The inbox page's HTML: a table of received messages that fits a 1280 px window, each verdict a
 * cell with the result as text (and a colour) and its details written out beneath it (nothing is
 * hidden in a tooltip), a note under messages whose verdicts need explaining (explain.ts), and a
 * link to the raw source. Every value comes from mail anyone could send, so everything is escaped;
 * the page runs no inline script.
 */
import { forwardingNote } from './explain';
import type { SpamScore, StoredMessage } from './inbox-store';
import { CHECKS, type Verdict } from './verdicts';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const GOOD = new Set(['pass']);
const BAD = new Set(['fail', 'permerror', 'temperror', 'softfail', 'policy']);

function verdictCell(check: string, verdict: Verdict): string {
  const tone = GOOD.has(verdict.result) ? 'pass' : BAD.has(verdict.result) ? 'fail' : 'neutral';
  return `<td class="verdict ${tone}" data-check="${check}"><span class="result">${escapeHtml(`${check}=${verdict.result}`)}</span><div class="detail">${escapeHtml(verdict.detail)}</div></td>`;
}

/** rspamd's score and action, and every symbol (strongest first) in a list that opens on click. */
function spamCell(spam: SpamScore | null | undefined): string {
  if (!spam) return '<td class="spam neutral" data-check="spam">not scanned<div class="detail">no rspamd was running</div></td>';
  const tone = spam.action === 'no action' ? 'pass' : /reject/.test(spam.action) ? 'fail' : 'neutral';
  const symbols = spam.symbols.map((symbol) => `<li>${escapeHtml(`${symbol.name} ${symbol.score.toFixed(2)}`)}</li>`).join('');
  return (
    `<td class="spam ${tone}" data-check="spam"><span class="score">${escapeHtml(spam.score.toFixed(2))}</span> ${escapeHtml(spam.action)}` +
    `<details><summary>${spam.symbols.length} symbols</summary><ul class="symbols">${symbols}</ul></details></td>`
  );
}

const COLUMNS = 7;

/** Subject, From, envelope and time in one cell, so the row needs no horizontal room for them. */
function messageCell(message: StoredMessage, trace: string | undefined): string {
  const when = message.receivedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return (
    `<td class="message"><div class="subject">${escapeHtml(message.subject || '(no subject)')}</div>` +
    `<div class="from">${escapeHtml(message.from)}</div>` +
    `<div class="envelope">envelope ${escapeHtml(`<${message.envelope.mailFrom}>`)} → ${escapeHtml(message.envelope.rcptTo.join(', '))}</div>` +
    `<div class="meta">${escapeHtml(when)} · <a href="/messages/${encodeURIComponent(message.id)}/raw">raw source</a>` +
    `${trace ? ` · <a href="${escapeHtml(trace)}">trace ${escapeHtml(message.queueId ?? '')}</a>` : ''}</div></td>`
  );
}

function connectionCell(message: StoredMessage): string {
  const tls = message.tls ? message.tls.protocol : 'none';
  const client = `${message.client.rdns ?? 'no reverse DNS'} [${message.client.ip}]`;
  return (
    `<td class="connection"><span class="tls ${message.tls ? 'pass' : 'fail'}">${escapeHtml(tls)}</span>` +
    `<div class="detail">${escapeHtml(message.tls?.cipher ?? 'plain text')}</div><div class="detail client">${escapeHtml(client)}</div></td>`
  );
}

function rows(message: StoredMessage, traceUrl: (queueId: string) => string | undefined): string {
  const trace = message.queueId ? traceUrl(message.queueId) : undefined;
  const cells = [messageCell(message, trace), connectionCell(message), ...CHECKS.map((check) => verdictCell(check, message.verdicts[check])), spamCell(message.spam)];
  const note = forwardingNote(message);
  return (
    `<tr data-id="${escapeHtml(message.id)}">${cells.join('')}</tr>` +
    (note ? `\n<tr class="note" data-note-for="${escapeHtml(message.id)}"><td colspan="${COLUMNS}">${escapeHtml(note)}</td></tr>` : '')
  );
}

export function renderInboxPage(messages: StoredMessage[], context: { domain: string; mta: string; traceUrl?: (queueId: string) => string | undefined }): string {
  const traceUrl = context.traceUrl ?? (() => undefined);
  const body =
    messages.length === 0
      ? `<p class="empty">No mail yet. The terminal running <code>mxkit local</code> shows how to send some.</p>`
      : `<table>
<colgroup><col class="message"><col class="connection"><col class="check"><col class="check"><col class="check"><col class="check"><col class="spam"></colgroup>
<thead><tr><th>Message</th><th>TLS and client</th><th>SPF</th><th>DKIM</th><th>DMARC</th><th>ARC</th><th>Spam score (rspamd)</th></tr></thead>
<tbody>
${messages.map((message) => rows(message, traceUrl)).join('\n')}
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

// Fixed layout with set column widths: long addresses and verdict details wrap inside their cell
// instead of widening the table, so the page fits a 1280 px window with every detail on screen.
export const INBOX_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1rem;color:#222}
table{border-collapse:collapse;width:100%;table-layout:fixed}
col.message{width:23%}col.connection{width:13%}col.check{width:13%}col.spam{width:12%}
th,td{border:1px solid #ccc;padding:.3rem .45rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f3f3}
td.pass,span.pass{background:#e3f6e3}
td.fail,span.fail{background:#fbe3e3}
td.neutral{background:#f6f3e0}
td .result,td.spam .score,td.message .subject{font-weight:bold}
td .detail,td.message .from,td.message .envelope,td.message .meta{font-size:12px;color:#444}
tr.note td{background:#eef3fb;font-size:13px}
code{background:#f3f3f3;padding:0 .2rem}
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
