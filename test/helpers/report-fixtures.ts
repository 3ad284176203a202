/**
 * Report messages as receivers send them: DMARC aggregate XML (RFC 7489 appendix C) gzip'ed,
 * zip'ed or plain, TLS-RPT JSON (RFC 8460 4.4) gzip'ed, and ARF complaints (RFC 5965), each in a
 * MIME message with a base64 attachment. The zip writer here is independent of the relay's reader.
 */
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';

export interface DmarcRowFixture {
  ip: string;
  count: number;
  dkim: 'pass' | 'fail';
  spf: 'pass' | 'fail';
}

export interface DmarcFixture {
  org?: string;
  reportId: string;
  domain?: string;
  policy?: 'none' | 'quarantine' | 'reject';
  /** Unix seconds of the day reported. */
  begin: number;
  rows: DmarcRowFixture[];
}

export function dmarcXml(fixture: DmarcFixture): string {
  const domain = fixture.domain ?? 'example.test';
  const records = fixture.rows
    .map(
      (row) => `  <record>
    <row>
      <source_ip>${row.ip}</source_ip>
      <count>${row.count}</count>
      <policy_evaluated><disposition>none</disposition><dkim>${row.dkim}</dkim><spf>${row.spf}</spf></policy_evaluated>
    </row>
    <identifiers><header_from>${domain}</header_from></identifiers>
    <auth_results>
      <dkim><domain>${domain}</domain><selector>mx1</selector><result>${row.dkim}</result></dkim>
      <spf><domain>${domain}</domain><result>${row.spf}</result></spf>
    </auth_results>
  </record>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8" ?>
<feedback xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <report_metadata>
    <org_name>${fixture.org ?? 'google.com'}</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>${fixture.reportId}</report_id>
    <date_range><begin>${fixture.begin}</begin><end>${fixture.begin + 86_399}</end></date_range>
  </report_metadata>
  <!-- comments and CDATA are allowed -->
  <policy_published><domain>${domain}</domain><adkim>r</adkim><aspf>r</aspf><p>${fixture.policy ?? 'none'}</p><sp>${fixture.policy ?? 'none'}</sp><pct>100</pct></policy_published>
${records}
</feedback>
`;
}

export function tlsRptJson(options: { reportId: string; domain?: string; success: number; failures?: Array<{ type: string; count: number; mx?: string }> }): string {
  const failures = options.failures ?? [];
  return JSON.stringify({
    'organization-name': 'Google Inc.',
    'date-range': { 'start-datetime': '2025-03-01T00:00:00Z', 'end-datetime': '2025-03-01T23:59:59Z' },
    'contact-info': 'smtp-tls-reporting@google.com',
    'report-id': options.reportId,
    policies: [
      {
        policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1', 'mode: testing', 'mx: mail.example.test', 'max_age: 86400'], 'policy-domain': options.domain ?? 'example.test', 'mx-host': ['mail.example.test'] },
        summary: { 'total-successful-session-count': options.success, 'total-failure-session-count': failures.reduce((sum, f) => sum + f.count, 0) },
        'failure-details': failures.map((f) => ({ 'result-type': f.type, 'sending-mta-ip': '198.51.100.7', 'receiving-mx-hostname': f.mx ?? 'mail.example.test', 'failed-session-count': f.count })),
      },
    ],
  });
}

/** A zip archive (PKWARE APPNOTE 4.3) holding one deflated file. */
export function zip(name: string, data: Buffer): Buffer {
  const compressed = deflateRawSync(data);
  const nameBytes = Buffer.from(name, 'utf8');
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(0, 6);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(compressed.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(compressed.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  central.writeUInt32LE(0, 42);
  const centralOffset = local.length + nameBytes.length + compressed.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + nameBytes.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, nameBytes, compressed, central, nameBytes, end]);
}

export const gzip = (text: string | Buffer) => gzipSync(typeof text === 'string' ? Buffer.from(text) : text);

export interface Attachment {
  type: string;
  filename: string;
  data: Buffer;
}

/** A report message: a short text part and the attachment (or none), base64 like reporters send it. */
export function reportMessage(options: { from: string; to: string; subject: string; attachment?: Attachment; reportType?: string }): string {
  const boundary = `b${Math.random().toString(36).slice(2)}`;
  const head = [`From: ${options.from}`, `To: ${options.to}`, `Subject: ${options.subject}`, `Date: ${new Date().toUTCString()}`, `Message-ID: <${Math.random().toString(36).slice(2)}@reporter.test>`, 'MIME-Version: 1.0'];
  const parts = [`--${boundary}`, 'Content-Type: text/plain; charset=us-ascii', '', `This is an aggregate report: ${options.subject}`, ''];
  if (options.attachment) {
    const { type, filename, data } = options.attachment;
    const base64 = (data.toString('base64').match(/.{1,76}/g) ?? ['']).join('\r\n');
    parts.push(`--${boundary}`, `Content-Type: ${type}; name="${filename}"`, 'Content-Transfer-Encoding: base64', `Content-Disposition: attachment; filename="${filename}"`, '', base64, '');
  }
  parts.push(`--${boundary}--`, '');
  const type = options.reportType ? `multipart/report; report-type=${options.reportType}; boundary="${boundary}"` : `multipart/mixed; boundary="${boundary}"`;
  return [...head, `Content-Type: ${type}`, '', ...parts].join('\r\n');
}

/** An ARF complaint (RFC 5965) about `original` (a message with our Received header). */
export function arfMessage(options: { from: string; to: string; originalRcptTo?: string; original: string; feedbackType?: string }): string {
  const boundary = `arf${Math.random().toString(36).slice(2)}`;
  return [
    `From: ${options.from}`,
    `To: ${options.to}`,
    'Subject: FW: complaint',
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${Math.random().toString(36).slice(2)}@fbl.test>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is an email abuse report for an email message received from IP 127.0.0.1.',
    '',
    `--${boundary}`,
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${options.feedbackType ?? 'abuse'}`,
    'User-Agent: SomeGenerator/1.0',
    'Version: 1',
    'Source-IP: 127.0.0.1',
    'Reporting-MTA: dns; fbl.elsewhere.test',
    ...(options.originalRcptTo ? [`Original-Rcpt-To: ${options.originalRcptTo}`] : []),
    '',
    `--${boundary}`,
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    options.original.replace(/\r?\n/g, '\r\n'),
    `--${boundary}--`,
    '',
  ].join('\r\n');
}
