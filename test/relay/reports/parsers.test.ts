import { parseArf } from '../../../relay/src/reports/arf';
import { parseDmarcXml } from '../../../relay/src/reports/dmarc';
import { extractDmarc, extractTlsRpt } from '../../../relay/src/reports/extract';
import { MAX_PAYLOAD_BYTES, unzipFirst } from '../../../relay/src/reports/payload';
import { adviseDmarcPolicy } from '../../../relay/src/reports/summary';
import { parseXml } from '../../../relay/src/reports/xml';
import { arfMessage, dmarcXml, gzip, reportMessage, tlsRptJson, zip } from '../../helpers/report-fixtures';

const DAY = 1_740_787_200; // 2025-03-01T00:00:00Z
const fixture = dmarcXml({ reportId: 'r1', begin: DAY, rows: [{ ip: '192.0.2.25', count: 12, dkim: 'pass', spf: 'pass' }, { ip: '203.0.113.9', count: 2, dkim: 'fail', spf: 'fail' }] });
const message = (type: string, filename: string, data: Buffer) => Buffer.from(reportMessage({ from: 'noreply-dmarc-support@google.com', to: 'dmarc-reports@example.test', subject: 'Report domain: example.test', attachment: { type, filename, data } }));

describe('DMARC aggregate report parsing', () => {
  it('reads the same report gzip-ed, zip-ped and as plain XML, whatever the declared type', () => {
    for (const body of [
      message('application/gzip', 'google.com!example.test!1740787200!1740873599.xml.gz', gzip(fixture)),
      message('application/zip', 'report.zip', zip('google.com!example.test.xml', Buffer.from(fixture))),
      message('text/xml', 'report.xml', Buffer.from(fixture)),
      message('application/octet-stream', 'report', gzip(fixture)),
    ]) {
      const extracted = extractDmarc(body);
      expect(extracted.result).toBe('stored');
      if (extracted.result !== 'stored') continue;
      expect(extracted.report).toMatchObject({ org: 'google.com', reportId: 'r1', begin: '2025-03-01T00:00:00.000Z', policy: { domain: 'example.test', p: 'none', pct: 100 }, messages: 14 });
      expect(extracted.report.rows[0]).toEqual({ sourceIp: '192.0.2.25', count: 12, disposition: 'none', dkim: 'pass', spf: 'pass', headerFrom: 'example.test', dkimAuth: [{ domain: 'example.test', result: 'pass', selector: 'mx1' }], spfAuth: [{ domain: 'example.test', result: 'pass' }] });
    }
  });

  it('counts a message without a report, or with an empty one, as empty', () => {
    expect(extractDmarc(Buffer.from(reportMessage({ from: 'a@b.test', to: 'c@d.test', subject: 'no attachment' })))).toMatchObject({ result: 'empty' });
    expect(extractDmarc(message('application/gzip', 'empty.xml.gz', gzip('')))).toMatchObject({ result: 'empty' });
  });

  it('counts broken XML, broken archives and documents that are no DMARC report as malformed, with the reason', () => {
    expect(extractDmarc(message('text/xml', 'r.xml', Buffer.from(fixture.slice(0, fixture.length / 2))))).toMatchObject({ result: 'malformed', problem: expect.stringMatching(/not closed|not well-formed/) });
    expect(extractDmarc(message('application/gzip', 'r.xml.gz', gzip(fixture).subarray(0, 40)))).toMatchObject({ result: 'malformed', problem: expect.stringMatching(/^gzip: /) });
    expect(extractDmarc(message('application/zip', 'r.zip', zip('r.xml', Buffer.from(fixture)).subarray(0, 60)))).toMatchObject({ result: 'malformed', problem: expect.stringMatching(/^zip: /) });
    expect(extractDmarc(message('text/xml', 'r.xml', Buffer.from('<feedback><report_metadata/></feedback>')))).toMatchObject({ result: 'malformed', problem: 'report_metadata has no org_name' });
    expect(extractDmarc(message('text/xml', 'r.xml', Buffer.from('<html><body>hi</body></html>')))).toMatchObject({ result: 'malformed', problem: expect.stringMatching(/not <feedback>/) });
    expect(extractDmarc(message('application/json', 'r.json', Buffer.from('{"a":1}')))).toMatchObject({ result: 'malformed', problem: expect.stringMatching(/not an XML report/) });
  });

  it('refuses DTDs (no entity expansion) and stops a zip bomb at the size cap', () => {
    const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><feedback>&lol2;</feedback>`;
    expect(extractDmarc(message('text/xml', 'r.xml', Buffer.from(laughs)))).toMatchObject({ result: 'malformed', problem: expect.stringMatching(/DTD/) });
    const bomb = Buffer.alloc(MAX_PAYLOAD_BYTES + 1024 * 1024, 0x20);
    expect(extractDmarc(message('application/gzip', 'bomb.xml.gz', gzip(bomb)))).toMatchObject({ result: 'malformed', problem: expect.stringMatching(/larger than/) });
    expect(() => unzipFirst(zip('bomb.xml', bomb))).toThrow(/larger than/);
    const raw = zip('r.xml', Buffer.from(fixture));
    const centralDirectory = raw.readUInt32LE(raw.length - 22 + 16);
    raw.writeUInt16LE(1, centralDirectory + 8); // general purpose flag bit 0: encrypted
    expect(() => unzipFirst(raw)).toThrow(/encrypted/);
  });

  it('skips rows that make no sense instead of failing the report, and keeps counting their messages', () => {
    const xml = fixture.replace('<source_ip>203.0.113.9</source_ip>', '<source_ip>not-an-ip</source_ip>');
    const report = parseDmarcXml(xml);
    expect(report.rows.map((row) => row.sourceIp)).toEqual(['192.0.2.25']);
    expect(report.droppedRows).toBe(1);
  });

  it('reads elements with namespace prefixes, CDATA and character references', () => {
    const root = parseXml('<?xml version="1.0"?><a:feedback xmlns:a="urn:x"><a:org><![CDATA[A & B]]> &amp; C &#x41;</a:org><empty/></a:feedback>');
    expect(root.name).toBe('feedback');
    expect(root.children[0]).toMatchObject({ name: 'org', text: 'A & B & C A' });
    expect(() => parseXml('<a><b></a></b>')).toThrow(/unexpected/);
    expect(() => parseXml('<a>&ext;</a>')).toThrow(/unknown entity/);
  });
});

describe('TLS-RPT report parsing', () => {
  it('reads a gzip-ed RFC 8460 JSON report', () => {
    const body = message('application/tlsrpt+gzip', 'google.com!example.test!1740787200!1740873599!001.json.gz', gzip(tlsRptJson({ reportId: 't1', success: 40, failures: [{ type: 'certificate-expired', count: 2 }] })));
    const extracted = extractTlsRpt(body);
    expect(extracted).toMatchObject({ result: 'stored', report: { org: 'Google Inc.', reportId: 't1', policies: [{ type: 'sts', domain: 'example.test', success: 40, failure: 2, failures: [{ resultType: 'certificate-expired', count: 2, mx: 'mail.example.test' }] }] } });
  });

  it('counts JSON that is broken or misses required fields as malformed, naming the field', () => {
    expect(extractTlsRpt(message('application/tlsrpt+json', 'r.json', Buffer.from('{"organization-name": "x", ')))).toMatchObject({ result: 'malformed', problem: expect.stringMatching(/^not JSON/) });
    const missing = JSON.parse(tlsRptJson({ reportId: 't2', success: 1 })) as Record<string, unknown>;
    delete missing['report-id'];
    expect(extractTlsRpt(message('application/tlsrpt+json', 'r.json', Buffer.from(JSON.stringify(missing))))).toMatchObject({ result: 'malformed', problem: expect.stringMatching(/^report-id: /) });
    const negative = tlsRptJson({ reportId: 't3', success: 1 }).replace('"total-successful-session-count":1', '"total-successful-session-count":-5');
    expect(extractTlsRpt(message('application/tlsrpt+json', 'r.json', Buffer.from(negative)))).toMatchObject({ result: 'malformed' });
  });
});

describe('ARF complaints', () => {
  const original = 'Received: from client ([127.0.0.1])\r\n\tby mail.example.test (mxkit) with ESMTPSA (TLSv1.3 TLS_AES_256_GCM_SHA384) id 0MX000000ABCDEF0123\r\n\tfor <victim@elsewhere.test>;\r\n\tSat, 1 Mar 2025 10:00:00 +0000\r\nFrom: App <app@example.test>\r\nTo: victim@elsewhere.test\r\nSubject: offer\r\n\r\nbody\r\n';

  it('find the complaining recipient, the feedback type and our queue id of the original', () => {
    const complaint = parseArf(Buffer.from(arfMessage({ from: 'fbl@elsewhere.test', to: 'abuse@example.test', originalRcptTo: 'victim@elsewhere.test', original })), 'mail.example.test');
    expect(complaint).toMatchObject({ feedbackType: 'abuse', recipient: 'victim@elsewhere.test', queueId: '0MX000000ABCDEF0123', originalFrom: 'app@example.test', sourceIp: '127.0.0.1' });
  });

  it("fall back to the original's To: when the report redacts Original-Rcpt-To, and ignore other hosts' Received headers", () => {
    const complaint = parseArf(Buffer.from(arfMessage({ from: 'fbl@elsewhere.test', to: 'abuse@example.test', original: original.replace('mail.example.test (mxkit)', 'mx.other.test (mxkit)') })), 'mail.example.test');
    expect(complaint?.recipient).toBe('victim@elsewhere.test');
    expect(complaint?.queueId).toBeUndefined();
  });

  it('say a message without a feedback-report part is not a complaint', () => {
    expect(parseArf(Buffer.from('From: someone@elsewhere.test\r\nSubject: hello abuse desk\r\n\r\nplease help\r\n'), 'mail.example.test')).toBeUndefined();
  });
});

describe('the "can the DMARC policy be tightened" advice', () => {
  const days = (count: number) => Array.from({ length: count }, (_, index) => ({ day: `2025-03-0${index + 1}`, messages: 10, dmarcPass: 10 }));
  const base = { domain: 'example.test', reports: 7, reporters: ['google.com'], sources: [] };

  it('says yes with the pulumi command when a week of reports shows at least 98% passing', () => {
    const advice = adviseDmarcPolicy({ ...base, messages: 70, dmarcPass: 70, days: days(7) }, 'none');
    expect(advice).toMatchObject({ canTighten: true, next: 'quarantine', command: 'pulumi config set mxkit:dmarcPolicy quarantine' });
    expect(adviseDmarcPolicy({ ...base, messages: 70, dmarcPass: 70, days: days(7) }, 'quarantine').command).toBe('pulumi config set mxkit:dmarcPolicy reject');
  });

  it('says not yet with too little data, with failing sources, and nothing to do at p=reject', () => {
    expect(adviseDmarcPolicy({ ...base, messages: 70, dmarcPass: 70, days: days(3) }, 'none')).toMatchObject({ canTighten: false, line: expect.stringMatching(/^Not yet: reports cover 3 days/) });
    const failing = adviseDmarcPolicy({ ...base, messages: 100, dmarcPass: 90, days: days(7), sources: [{ ip: '203.0.113.9', messages: 10, dkimPass: 0, spfPass: 0, dmarcPass: 0, reporters: [] }] }, 'none');
    expect(failing).toMatchObject({ canTighten: false, line: expect.stringContaining('203.0.113.9 (10 failing)') });
    expect(adviseDmarcPolicy({ ...base, messages: 70, dmarcPass: 70, days: days(7) }, 'reject')).toMatchObject({ canTighten: false, line: expect.stringMatching(/already/) });
  });
});
