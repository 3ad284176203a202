import { buildMailRecords } from '../../infra/builders/records';
import { findZoneConflicts, recordComment } from '../../infra/builders/zone-conflicts';

const planned = buildMailRecords({ domain: 'example.com', hostname: 'mail.example.com', ipv4: '192.0.2.1', dkim: { selector: 'mx1', publicKey: 'AAAA' }, mtaSts: { mode: 'testing', maxAge: '7d' } });
const conflictsWith = (records: Array<{ name: string; type: string; content?: string; comment?: string }>) => findZoneConflicts(records, planned, 'prod');

describe('records a zone already holds', () => {
  test('a second DMARC, DKIM, MTA-STS or TLS-RPT record at our names is a conflict, in any quoting', () => {
    const found = conflictsWith([
      { name: '_dmarc.example.com', type: 'TXT', content: 'v=DMARC1; p=reject' },
      { name: 'mx1._domainkey.example.com', type: 'TXT', content: '"v=DKIM1; k=rsa; p=" "BBBB"' },
      { name: '_mta-sts.example.com', type: 'TXT', content: '"v=STSv1; id=1"' },
      { name: '_smtp._tls.example.com.', type: 'TXT', content: '"v=TLSRPTv1; rua=mailto:x@example.net"' },
    ]);
    expect(found.map((c) => c.name)).toEqual(['_dmarc.example.com', 'mx1._domainkey.example.com', '_mta-sts.example.com', '_smtp._tls.example.com']);
  });

  test('another address for the mail host is a conflict; another CAA issuer is not', () => {
    const found = conflictsWith([
      { name: 'mail.example.com', type: 'A', content: '198.51.100.9' },
      { name: 'mail.example.com', type: 'CAA', content: '0 issue "pki.goog"' },
    ]);
    expect(found).toEqual([expect.objectContaining({ name: 'mail.example.com', type: 'A', existing: '198.51.100.9' })]);
  });

  test('records this stack made, other TXT records and other names are not conflicts', () => {
    expect(
      conflictsWith([
        { name: 'example.com', type: 'TXT', content: '"v=spf1 ip4:192.0.2.1 -all"', comment: recordComment('prod', 'spf') },
        { name: 'example.com', type: 'TXT', content: '"apple-domain-verification=x"' },
        { name: 'www.example.com', type: 'CNAME', content: 'example.net' },
        { name: 'example.com', type: 'A', content: '198.51.100.1' },
      ]),
    ).toEqual([]);
  });

  test('records of another stack with the same domain are conflicts', () => {
    expect(conflictsWith([{ name: 'example.com', type: 'MX', content: 'mail.example.com', comment: recordComment('staging', 'mx') }])).toHaveLength(1);
  });
});
