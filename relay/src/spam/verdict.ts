/**
 * From rspamd's answer to what the relay does, and the header lines that say so. Pure functions.
 *
 * rspamd recommends an action and gives a score; the relay's own thresholds (`flagScore`,
 * `rejectScore`) apply to the score as well, so the operator's settings win even when rspamd's
 * own action thresholds differ (rspamd.com/doc/configuration/metrics.html: actions are score
 * thresholds too). The header names follow rspamd's milter_headers module
 * (rspamd.com/doc/modules/milter_headers.html: x-spam, x-spamd-result) so mailbox rules written
 * for rspamd-filtered mail work unchanged.
 */
import type { RspamdResult, RspamdSymbol } from './rspamd-client';

export type ScanAction = 'accept' | 'flag' | 'reject' | 'soft_reject';

export interface Thresholds {
  flagScore: number;
  /** null: never refuse (flag only). */
  rejectScore: number | null;
}

export function judge(result: RspamdResult, thresholds: Thresholds): ScanAction {
  const refuses = thresholds.rejectScore !== null;
  if (refuses && (result.action === 'reject' || result.score >= (thresholds.rejectScore as number))) return 'reject';
  // "soft reject": rspamd asks for a temporary failure (a rate limit of its own, for instance).
  if (refuses && result.action === 'soft reject') return 'soft_reject';
  const suspicious = ['add header', 'rewrite subject', 'reject', 'soft reject'].includes(result.action);
  return suspicious || result.score >= thresholds.flagScore ? 'flag' : 'accept';
}

/** Printable ASCII only, bounded: rspamd's texts can echo message content (URLs, names). */
export function cleanText(text: string, max: number): string {
  const clean = text.replace(/[^\x20-\x7e]+/g, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 3)}...` : clean;
}

/** The reason given in a 550/451: rspamd's suggested SMTP text, else the score. */
export function refusalText(result: RspamdResult, thresholds: Thresholds): string {
  const suggested = result.smtpMessage ? cleanText(result.smtpMessage, 200) : '';
  if (suggested) return suggested;
  const limit = thresholds.rejectScore ?? result.requiredScore;
  return `spam score ${result.score.toFixed(2)}${limit === undefined ? '' : ` of ${limit.toFixed(2)}`}`;
}

const MAX_SYMBOLS = 60;
const MAX_OPTIONS = 5;

function symbolText(symbol: RspamdSymbol): string {
  const name = symbol.name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  const options = symbol.options
    .slice(0, MAX_OPTIONS)
    .map((option) => cleanText(option, 60).replace(/[[\];,]/g, '_'))
    .filter((option) => option !== '');
  return `${name}(${symbol.score.toFixed(2)})${options.length ? `[${options.join(',')}]` : ''}`;
}

/** Header lines (CRLF-terminated, folded at 78 columns per symbol, RFC 5322 §2.2.3). */
export function spamHeaders(result: RspamdResult | undefined, thresholds: Thresholds, extra: readonly string[] = []): string {
  const lines = ['X-Spam: Yes'];
  if (result) {
    lines.push(`X-Spam-Score: ${result.score.toFixed(2)}`);
    const required = thresholds.rejectScore ?? result.requiredScore ?? thresholds.flagScore;
    const symbols = [...result.symbols].sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || a.name.localeCompare(b.name)).slice(0, MAX_SYMBOLS);
    const parts = [`default: True [${result.score.toFixed(2)} / ${required.toFixed(2)}]`, ...symbols.map(symbolText)];
    lines.push(`X-Spamd-Result: ${parts.join(';\r\n\t')}`);
  }
  lines.push(...extra);
  return lines.map((line) => `${line}\r\n`).join('');
}

export const UNSCANNED_HEADER = 'X-Spam: unscanned\r\n';

/** A flag-zone DNSBL hit, as its own header next to X-Spam (zone names are ASCII by the schema). */
export function dnsblHeader(name: string, answers: readonly string[]): string {
  return `X-Spam-DNSBL: ${name} (${answers.join(', ')})`;
}
