/** The pure side of `mxkit:outbound ses` (infra/builders/ses.ts and its records), without Pulumi. */
import { createPrivateKey, createPublicKey, createSign, createVerify, generateKeyPairSync } from 'node:crypto';
import { buildMailRecords, type MailRecordsInput } from '../../infra/builders/records';
import { mailFromDomainFor, sesMailFromValues, sesSendPolicy, sesSigningKey, sesSmtpHost } from '../../infra/builders/ses';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const base: MailRecordsInput = { domain: 'example.com', hostname: 'mail.example.com', ipv4: '203.0.113.10' };

describe('SES builders', () => {
  test('give SES the relay\'s key as base64 PKCS#8 DER without armour, whether the PEM is PKCS#1 or PKCS#8', () => {
    const pkcs1 = rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const pkcs8 = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const given = sesSigningKey(pkcs1);
    expect(sesSigningKey(pkcs8)).toBe(given);
    expect(given).toMatch(/^[A-Za-z0-9+/]+=*$/);
    // The same key: a signature made with what SES holds verifies with the relay's public key.
    const sesKey = createPrivateKey({ key: Buffer.from(given, 'base64'), format: 'der', type: 'pkcs8' });
    const signature = createSign('sha256').update('x').sign(sesKey);
    expect(createVerify('sha256').update('x').verify(createPublicKey(pkcs1), signature)).toBe(true);
  });

  test('refuse a key SES cannot take for BYODKIM (Ed25519, RSA-4096)', () => {
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => sesSigningKey(ed)).toThrow(/1024- or 2048-bit RSA key, not ed25519/);
    const big = generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => sesSigningKey(big)).toThrow(/not rsa 4096/);
  });

  test('name the regional endpoints and refuse what is not a region', () => {
    expect(sesSmtpHost('eu-west-1')).toBe('email-smtp.eu-west-1.amazonaws.com');
    expect(sesMailFromValues('us-east-1')).toEqual({ mx: 'feedback-smtp.us-east-1.amazonses.com', spf: 'v=spf1 include:amazonses.com -all' });
    expect(() => sesSmtpHost('eu-west-1.evil.test')).toThrow(/not a region name/);
  });

  test('default the MAIL FROM domain to bounce.<domain> and accept only subdomains', () => {
    expect(mailFromDomainFor('Bücher.example')).toBe('bounce.xn--bcher-kva.example');
    expect(mailFromDomainFor('example.com', 'mf.example.com')).toBe('mf.example.com');
    expect(() => mailFromDomainFor('example.com', 'example.com')).toThrow(/must be a subdomain/);
    expect(() => mailFromDomainFor('example.com', 'bounce.notexample.com')).toThrow(/must be a subdomain/);
  });

  test('allow the SMTP user ses:SendRawEmail on the identity and nothing else', () => {
    expect(JSON.parse(sesSendPolicy('arn:aws:ses:eu-west-1:1:identity/example.com'))).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'SendAsTheMailDomainOnly', Effect: 'Allow', Action: 'ses:SendRawEmail', Resource: 'arn:aws:ses:eu-west-1:1:identity/example.com' }],
    });
  });
});

describe('records with an SES MAIL FROM domain', () => {
  test('add its MX to SES feedback and its SPF, and nothing without it', () => {
    const records = buildMailRecords({ ...base, sesMailFrom: { domain: 'bounce.example.com', region: 'eu-west-1' } });
    expect(records.filter((r) => r.name === 'bounce.example.com').map((r) => ({ key: r.key, type: r.type, content: r.content, priority: r.priority }))).toEqual([
      { key: 'ses-mail-from-mx', type: 'MX', content: 'feedback-smtp.eu-west-1.amazonses.com', priority: 10 },
      { key: 'ses-mail-from-spf', type: 'TXT', content: '"v=spf1 include:amazonses.com -all"', priority: undefined },
    ]);
    expect(buildMailRecords(base).some((r) => r.key.startsWith('ses-'))).toBe(false);
  });

  test('refuse a MAIL FROM domain outside the mail domain or on the host name', () => {
    expect(() => buildMailRecords({ ...base, sesMailFrom: { domain: 'bounce.example.net', region: 'eu-west-1' } })).toThrow(/must be a subdomain of example\.com/);
    expect(() => buildMailRecords({ ...base, sesMailFrom: { domain: 'mail.example.com', region: 'eu-west-1' } })).toThrow(/other than mail\.example\.com/);
  });
});
