import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { dkimSign } from 'mailauth/lib/dkim/sign';
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { dkimValue } from '../../../infra/builders/records';
import { dkimSignature, relaxedBody, relaxedBodyPieces, relaxedHeader } from '../../../relay/src/delivery/dkim-signature';
import { RelaxedHash } from 'mailauth/lib/dkim/body/relaxed';
import { run, SYSTEM_PYTHON } from '../../helpers/run';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const RSA_RECORD = dkimValue(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString());
// RFC 8463 section 4: k=ed25519, p= the raw 32-byte public key.
const ED_RECORD = `v=DKIM1; k=ed25519; p=${ed.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64')}`;
const RECORDS: Record<string, string> = { 'mx1._domainkey.example.test': RSA_RECORD, 'ed1._domainkey.example.test': ED_RECORD };

const MESSAGE = Buffer.from(
  [
    'From: "Anna Example" <anna@example.test>',
    'To: someone@elsewhere.test,',
    '\t  other@elsewhere.test',
    'Subject:   A   subject\t with  spaces   ',
    'Date: Tue, 1 Jan 2030 10:00:00 +0000',
    'Message-ID: <1@example.test>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'X-Not-Signed: whatever',
    '',
    'Hello  there,\t ',
    '',
    'a line with trailing space ',
    '',
    '',
    '',
  ].join('\r\n'),
);

const signWith = (key: KeyObject, selector: string, algorithm: 'rsa-sha256' | 'ed25519-sha256', message = MESSAGE) =>
  Buffer.concat([Buffer.from(dkimSignature(message, { domain: 'example.test', selector, privateKey: key, algorithm }), 'latin1'), message]);

const resolver = async (name: string, type: string) => {
  const record = RECORDS[name];
  if (type !== 'TXT' || !record) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return [[record]];
};

async function mailauthResult(message: Buffer): Promise<string> {
  const result = await dkimVerify(message, { resolver });
  return result.results[0]?.status.result ?? 'none';
}

const DKIMPY = `
import sys, json, dkim
table = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    value = table.get((name.decode() if isinstance(name, bytes) else name).rstrip('.').lower())
    return value.encode() if value else None
print('pass' if dkim.verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc) else 'fail')
`;

async function dkimpyResult(message: Buffer): Promise<string> {
  const result = await run(SYSTEM_PYTHON, ['-c', DKIMPY, JSON.stringify(RECORDS)], message.toString('latin1'));
  if (result.code !== 0) throw new Error(result.stderr);
  return result.stdout.trim();
}

function tag(signed: Buffer, name: string): string {
  const header = signed.toString('latin1').split(/\r\n(?![ \t])/)[0].replace(/\r\n[ \t]+/g, '');
  return new RegExp(`[;:\\s]${name}=([^;]*)`).exec(header)?.[1].replace(/\s+/g, '') ?? '';
}

/** `count` bodies of up to `maxPieces` of `pieces` (latin1), the same every run (a fixed-seed LCG). */
function randomBodies(seed: number, count: number, maxPieces: number, pieces: readonly string[]): Buffer[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: count }, () => Buffer.from(Array.from({ length: next() % maxPieces }, () => pieces[next() % pieces.length]).join(''), 'latin1'));
}

describe('DKIM signatures with over-signing', () => {
  it('lists From twice in h= (and absent Reply-To, Cc, In-Reply-To, References once), and python3-dkim verifies it', async () => {
    const signed = signWith(rsa.privateKey, 'mx1', 'rsa-sha256');
    const names = tag(signed, 'h').split(':');
    expect(names.filter((name) => name === 'from')).toHaveLength(2);
    for (const absent of ['reply-to', 'cc', 'in-reply-to', 'references']) expect(names.filter((name) => name === absent)).toHaveLength(1);
    expect(names.filter((name) => name === 'to')).toHaveLength(2);
    expect(names).not.toContain('x-not-signed');
    expect(await dkimpyResult(signed)).toBe('pass');
    expect(await mailauthResult(signed)).toBe('pass');
  });

  it('signs with Ed25519 (RFC 8463) in a way mailauth verifies', async () => {
    const signed = signWith(ed.privateKey, 'ed1', 'ed25519-sha256');
    expect(tag(signed, 'a')).toBe('ed25519-sha256');
    expect(await mailauthResult(signed)).toBe('pass');
  });

  it('breaks when a second From:, a Reply-To: or a Cc: is added after signing', async () => {
    const signed = signWith(rsa.privateKey, 'mx1', 'rsa-sha256').toString('latin1');
    const end = signed.indexOf('\r\n\r\n');
    for (const added of ['From: ceo@example.test', 'Reply-To: attacker@evil.test', 'Cc: someone-else@evil.test']) {
      const tampered = Buffer.from(`${signed.slice(0, end)}\r\n${added}${signed.slice(end)}`, 'latin1');
      expect(await mailauthResult(tampered)).toBe('fail');
      expect(await dkimpyResult(tampered)).toBe('fail');
    }
  });

  it('hashes the body as mailauth does (relaxed: whitespace runs, line ends, trailing empty lines)', async () => {
    const privateKey = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const signer = { signingDomain: 'example.test', selector: 'mx1', privateKey, algorithm: 'rsa-sha256', canonicalization: 'relaxed/relaxed' };
    const reference = await dkimSign(MESSAGE, { ...signer, signatureData: [signer] });
    const ours = signWith(rsa.privateKey, 'mx1', 'rsa-sha256');
    expect(tag(ours, 'bh')).toBe(/bh=([^;]+)/.exec(reference.signatures.replace(/\r\n[ \t]+/g, ''))?.[1].replace(/\s+/g, ''));
    expect(relaxedBody(Buffer.from('a  b \t\r\n\r\n\r\n')).toString()).toBe('a b\r\n');
    expect(relaxedBody(Buffer.from('\r\n\r\n')).toString()).toBe('');
    expect(relaxedHeader('SUBJECT :  A \r\n\t b  ')).toBe('subject:A b');
  });

  it('canonicalises bodies byte for byte as the string rules of RFC 6376 3.4.4 do, bare CR and LF included (1,000 random bodies)', () => {
    // The rules written out on strings, as before: the oracle for the one-pass version.
    const byStrings = (body: Buffer) => {
      const lines = body
        .toString('latin1')
        .split('\r\n')
        .map((line) => line.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
      while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
      return Buffer.from(lines.length === 0 ? '' : `${lines.join('\r\n')}\r\n`, 'latin1');
    };
    for (const body of randomBodies(17, 1000, 40, ['a', 'Z', '\u00e9', ' ', '  ', '\t', '\r', '\n', '\r\n', '\r\n\r\n', ' \r\n', '.'])) {
      expect({ body: body.toString('latin1'), canonical: relaxedBody(body).toString('latin1') }).toEqual({ body: body.toString('latin1'), canonical: byStrings(body).toString('latin1') });
    }
  });

  it('hashes a clean body in place and bounds a hostile one (100,000 lines of whitespace) to one copy, not a piece per line', () => {
    const clean = Buffer.from('aGVsbG8gd29ybGQ=\r\n'.repeat(1000) + '\r\n\r\n');
    const cleanPieces = relaxedBodyPieces(clean);
    expect(cleanPieces).toHaveLength(2);
    expect(cleanPieces[0].buffer).toBe(clean.buffer);
    const hostile = Buffer.from('ok\r\n' + 'a \t \r\n'.repeat(100_000));
    const pieces = relaxedBodyPieces(hostile);
    expect(pieces.length).toBeLessThanOrEqual(3);
    expect(Buffer.concat(pieces).toString()).toBe('ok\r\n' + 'a\r\n'.repeat(100_000));
  });

  it('hashes CRLF bodies as the relaxed body hash of mailauth does (500 random bodies)', () => {
    for (const body of randomBodies(5, 500, 30, ['x', ' ', '\t', '\r\n', '\r\n\r\n', '\t\r\n'])) {
      const reference = new RelaxedHash('sha256');
      reference.update(body);
      expect({ body: body.toString(), hash: createHash('sha256').update(relaxedBody(body)).digest('base64') }).toEqual({ body: body.toString(), hash: reference.digest('base64') });
    }
  });

  it('signs a message with an empty body, and one that is all header (no empty line, RFC 5322 3.5)', async () => {
    expect(await mailauthResult(signWith(rsa.privateKey, 'mx1', 'rsa-sha256', Buffer.from('From: anna@example.test\r\nSubject: x\r\n\r\n')))).toBe('pass');
    expect(await dkimpyResult(signWith(rsa.privateKey, 'mx1', 'rsa-sha256', Buffer.from('From: anna@example.test\r\nSubject: x\r\n')))).toBe('pass');
  });
});
