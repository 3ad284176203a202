/**
 * What a receiving provider concludes about a message: SPF, DKIM, DMARC and ARC by mailauth (the
 * library the relay itself uses), reduced to one result and a short explanation per check, plus the
 * Authentication-Results header a real MTA would prepend.
 */
import { authenticate, type AuthenticateResult, type DNSResolver } from 'mailauth';

export const CHECKS = ['spf', 'dkim', 'dmarc', 'arc'] as const;
export type CheckName = (typeof CHECKS)[number];

export interface Verdict {
  /** mailauth's result word: pass, fail, none, neutral, softfail, temperror, permerror, ... */
  result: string;
  detail: string;
}

export type Verdicts = Record<CheckName, Verdict>;

export interface Verification {
  verdicts: Verdicts;
  /** Authentication-Results and Received-SPF lines, CRLF-terminated, to prepend to the message. */
  headers: string;
}

export interface SmtpContext {
  ip: string;
  helo: string;
  /** MAIL FROM; empty for the null sender. */
  sender: string;
}

function spfVerdict(spf: AuthenticateResult['spf']): Verdict {
  if (!spf) return { result: 'none', detail: 'not checked' };
  return { result: spf.status.result, detail: `${spf.domain}${spf.status.comment ? `: ${spf.status.comment}` : ''}` };
}

function dkimVerdict(dkim: AuthenticateResult['dkim']): Verdict {
  // mailauth reports an unsigned message as one result without a signing domain.
  const results = (dkim.results ?? []).filter((r) => r.signingDomain);
  if (results.length === 0) return { result: 'none', detail: 'no signature' };
  // One passing signature is enough for a receiver (RFC 6376 §6.1); show every one.
  const passing = results.find((r) => r.status.result === 'pass');
  const detail = results
    .map((r) => `d=${r.signingDomain} s=${r.selector ?? '?'}: ${r.status.result}${r.status.aligned ? ' (aligned)' : ''}${r.status.comment ? ` ${r.status.comment}` : ''}`)
    .join('; ');
  return { result: passing ? 'pass' : results[0].status.result, detail };
}

function dmarcVerdict(dmarc: AuthenticateResult['dmarc']): Verdict {
  if (!dmarc) return { result: 'none', detail: 'no From domain' };
  return { result: dmarc.status.result, detail: `${dmarc.domain}${dmarc.policy ? ` p=${dmarc.policy}` : ''}${dmarc.status.comment ? `: ${dmarc.status.comment}` : ''}` };
}

function arcVerdict(arc: AuthenticateResult['arc']): Verdict {
  if (!arc) return { result: 'none', detail: 'not checked' };
  const sets = arc.i ? `${arc.i} set${arc.i === 1 ? '' : 's'}` : 'no chain';
  return { result: arc.status.result, detail: `${sets}${arc.status.comment ? `: ${arc.status.comment}` : ''}` };
}

export async function verifyMessage(message: Buffer, smtp: SmtpContext, mta: string, resolver: DNSResolver): Promise<Verification> {
  const result = await authenticate(message, {
    ip: smtp.ip,
    helo: smtp.helo,
    ...(smtp.sender ? { sender: smtp.sender } : {}),
    mta,
    resolver,
    // BIMI would fetch logos over HTTPS from the internet; nothing here may leave loopback.
    disableBimi: true,
  });
  return {
    verdicts: { spf: spfVerdict(result.spf), dkim: dkimVerdict(result.dkim), dmarc: dmarcVerdict(result.dmarc), arc: arcVerdict(result.arc) },
    headers: result.headers,
  };
}
