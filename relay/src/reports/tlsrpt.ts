/**
 * SMTP TLS reports (RFC 8460 section 4): the JSON document -> per policy domain, sessions that
 * succeeded and failed, and why. Parsed once with a schema; unknown fields are ignored (the RFC
 * allows extensions), required ones must be there, numbers must be counts. Bounded like the
 * DMARC side.
 */
import * as z from 'zod';
import { builtOnFirstUse } from '../config/built-on-first-use';
import { printable } from '../printable';
import { ReportFormatError } from './dmarc';

// Built when the first report arrives, not at every start (config/built-on-first-use.ts).
const reportSchema = builtOnFirstUse(() => {
  const count = z.number().int().min(0).max(1_000_000_000);
  const text = (max: number) => z.string().max(4096).transform((value) => printable(value, max));

  const failureSchema = z.object({
    'result-type': text(64),
    'sending-mta-ip': text(64).optional(),
    'receiving-mx-hostname': text(255).optional(),
    'receiving-ip': text(64).optional(),
    'failed-session-count': count,
    'failure-reason-code': text(255).optional(),
    'additional-information': text(255).optional(),
  });

  const policySchema = z.object({
    policy: z.object({
      'policy-type': text(32),
      'policy-domain': text(255),
      'mx-host': z.array(text(255)).max(50).optional(),
    }),
    summary: z.object({ 'total-successful-session-count': count, 'total-failure-session-count': count }),
    'failure-details': z.array(failureSchema).max(1000).optional(),
  });

  return z.object({
    'organization-name': text(255),
    'date-range': z.object({ 'start-datetime': z.string().datetime({ offset: true }), 'end-datetime': z.string().datetime({ offset: true }) }),
    'contact-info': text(255).optional(),
    'report-id': text(255),
    policies: z.array(policySchema).max(100),
  });
});

export interface TlsFailure {
  resultType: string;
  count: number;
  mx?: string;
  sendingIp?: string;
}

export interface TlsPolicyResult {
  type: string;
  domain: string;
  success: number;
  failure: number;
  failures: TlsFailure[];
}

export interface TlsReport {
  org: string;
  reportId: string;
  contact?: string;
  begin: string;
  end: string;
  policies: TlsPolicyResult[];
}

export function parseTlsRptJson(json: string): TlsReport {
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch (error) {
    throw new ReportFormatError(`not JSON: ${(error as Error).message.slice(0, 100)}`);
  }
  const parsed = reportSchema().safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ReportFormatError(`${issue.path.join('.') || '(document)'}: ${issue.message}`);
  }
  const report = parsed.data;
  return {
    org: report['organization-name'],
    reportId: report['report-id'],
    ...(report['contact-info'] ? { contact: report['contact-info'] } : {}),
    begin: new Date(report['date-range']['start-datetime']).toISOString(),
    end: new Date(report['date-range']['end-datetime']).toISOString(),
    policies: report.policies.map((entry) => ({
      type: entry.policy['policy-type'],
      domain: entry.policy['policy-domain'].toLowerCase(),
      success: entry.summary['total-successful-session-count'],
      failure: entry.summary['total-failure-session-count'],
      failures: (entry['failure-details'] ?? []).map((failure) => ({
        resultType: failure['result-type'],
        count: failure['failed-session-count'],
        ...(failure['receiving-mx-hostname'] ? { mx: failure['receiving-mx-hostname'] } : {}),
        ...(failure['sending-mta-ip'] ? { sendingIp: failure['sending-mta-ip'] } : {}),
      })),
    })),
  };
}
