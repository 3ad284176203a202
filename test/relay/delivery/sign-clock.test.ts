/**
 * A signature must carry the time it signed. mailauth reads the clock again when it writes the
 * final DKIM-Signature / ARC header unless it is handed the signing time; when the two readings
 * round to different seconds the t= in the header is not the one the signature covers, and every
 * verifier answers "bad signature" (seen as ~0.2% of signatures on an idle machine, more under
 * load). Here the clock moves a second on every reading.
 */
import { generateKeyPairSync } from 'node:crypto';
import { authenticate, dkimVerify, type DNSResolver } from 'mailauth';
import { dkimSigners, signMessage } from '../../../relay/src/delivery/dkim';
import { outgoingMessage } from '../../../relay/src/delivery/outgoing';
import type { SpoolEnvelope } from '../../../relay/src/spool/envelope';

const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicKey = key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const resolver: DNSResolver = async (name) => {
  if (name === 'mx1._domainkey.example.test') return [[`v=DKIM1; k=rsa; p=${publicKey}`]];
  throw Object.assign(new Error(`no record for ${name}`), { code: 'ENOTFOUND' });
};
const signers = dkimSigners({ dkim: [{ domain: 'example.test', selector: 'mx1', keyFile: 'unused' }] }, new Map([['example.test/mx1', key.privateKey]]));

const message = Buffer.from(
  ['From: Ann <ann@example.test>', 'To: bob@elsewhere.test', 'Subject: clock', 'Date: Mon, 30 Nov 2026 11:00:00 +0000', 'Message-ID: <clock@example.test>', '', 'Hello.', ''].join('\r\n'),
);

let now = Date.UTC(2026, 10, 30, 11, 0, 0);
beforeEach(() => {
  jest.spyOn(Date, 'now').mockImplementation(() => (now += 1000));
});
afterEach(() => jest.restoreAllMocks());

describe('signing while the clock moves', () => {
  it('a DKIM signature made across second boundaries still verifies', async () => {
    const signed = await signMessage(message, signers, { utf8: false });
    const result = await dkimVerify(signed, { resolver });
    expect(result.results.map((r) => r.status.result)).toEqual(['pass']);
  });

  it('the ARC set added to a forwarded message whose From was rewritten still validates', async () => {
    const envelope: SpoolEnvelope = {
      id: 'CLOCK',
      receivedAt: new Date(0).toISOString(),
      mailFrom: 'ann@sender.test',
      rcptTo: ['bob@elsewhere.test'],
      origin: 'inbound',
      listener: 'mx',
      clientAddress: '192.0.2.1',
      smtpUtf8: false,
      bodyType: '7bit',
      inbound: { spf: 'pass', senderAuthenticated: true, arc: 'none', authResults: 'mail.example.test; spf=pass smtp.mailfrom=sender.test' },
    };
    const forwarded = await outgoingMessage(envelope, message, 'postmaster@example.test', signers);
    const result = await authenticate(forwarded, { ip: '192.0.2.2', helo: 'mail.example.test', sender: 'srs@example.test', mta: 'mx.elsewhere.test', resolver, disableBimi: true });
    expect(result.arc && result.arc.status.result).toBe('pass');
    expect(result.dkim.results.find((r) => r.signingDomain === 'example.test')?.status.result).toBe('pass');
  });
});
