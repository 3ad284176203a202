import { HOSTNAME, PASSWORD, startTestRelay, type TestRelay } from '../../helpers/relay';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { relayTransport } from '../../helpers/submit';
import { AUDIENCE, ISSUER, signingKey, startJwksServer, token, unsecuredToken, type JwksServer, type SigningKey } from '../../helpers/oauth';

let t: TestRelay;
let jwks: JwksServer;
let key: SigningKey;
let rotated: SigningKey;

beforeAll(async () => {
  [key, rotated] = await Promise.all([signingKey('2024-a'), signingKey('2025-b')]);
  jwks = await startJwksServer([key]);
  t = await startTestRelay(
    (config) => {
      config.auth = {
        oauth: [
          { issuer: ISSUER, jwksUrl: jwks.url, audience: AUDIENCE, allowedFrom: ['self'] },
          { issuer: 'https://apps.example.test', jwksUrl: jwks.url, audience: 'mxkit', usernameClaim: 'sub', allowedFrom: ['*@app.example.test'] },
        ],
      };
    },
    { authFailureDelayMs: 50, oauth: { cache: { refetchCooldownMs: 0 } } },
  );
});
afterAll(async () => {
  await t.stop();
  await jwks.close();
});
beforeEach(() => jwks.publish([key]));

const tls = () => ({ ca: t.certificate.cert, servername: HOSTNAME });
const b64 = (text: string) => Buffer.from(text).toString('base64');
const oauthBearer = (user: string, jwt: string) => b64(`n,a=${user},\x01host=${HOSTNAME}\x01port=465\x01auth=Bearer ${jwt}\x01\x01`);
const xoauth2 = (user: string, jwt: string) => b64(`user=${user}\x01auth=Bearer ${jwt}\x01\x01`);

/** Implicit TLS on 465 from its own loopback address, so each test has its own throttle count. */
async function dialog(localAddress: string): Promise<SmtpDialog> {
  const smtp = await SmtpDialog.open(t.port('submissions'), { localAddress, implicitTls: tls() });
  await smtp.greet();
  return smtp;
}

function oauthTransport(accessToken: string, user = 'alice@example.test') {
  return relayTransport(t, { auth: { type: 'OAuth2', user, accessToken } });
}

describe('OAuth 2.0 on submission', () => {
  it('offers XOAUTH2 and OAUTHBEARER beside PLAIN and LOGIN, on 587 only after STARTTLS', async () => {
    const smtp = await SmtpDialog.open(t.port('submission'));
    const plain = await smtp.greet();
    expect(plain.text).not.toMatch(/AUTH/);
    await smtp.startTls(t.certificate.cert, HOSTNAME);
    const secure = await smtp.command('EHLO client.test');
    expect(secure.lines).toContain('250-AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER');
    smtp.close();
  });

  it("lets nodemailer's OAuth2 client (XOAUTH2) send as the address its token names", async () => {
    const info = await oauthTransport(await token({ key })).sendMail({ from: 'alice@example.test', to: 'someone@elsewhere.test', subject: 'token', text: 'x' });
    expect(info.response).toMatch(/^250 2\.6\.0 Ok: queued as /);
    const id = /queued as (\S+)/.exec(info.response)?.[1] ?? '';
    expect((await t.relay.spool.read(id)).envelope).toMatchObject({ authUser: 'alice@example.test', listener: 'submissions', mailFrom: 'alice@example.test' });
  });

  it('accepts a token signed with a key published after a rotation (the key set is fetched again)', async () => {
    jwks.publish([key, rotated]);
    const info = await oauthTransport(await token({ key: rotated })).sendMail({ from: 'alice@example.test', to: 'someone@elsewhere.test', text: 'x' });
    expect(info.response).toMatch(/^250 /);
  });

  it('refuses a sender outside allowedFrom ("self": only the address in the token), in MAIL FROM and in From:', async () => {
    const transport = oauthTransport(await token({ key }));
    await expect(transport.sendMail({ from: 'bob@example.test', to: 'someone@elsewhere.test', text: 'x' })).rejects.toMatchObject({ response: expect.stringMatching(/^553 5\.7\.1 /) });
    await expect(transport.sendMail({ envelope: { from: 'alice@example.test', to: 'someone@elsewhere.test' }, from: 'ceo@example.test', text: 'x' })).rejects.toMatchObject({
      response: expect.stringMatching(/^550 5\.7\.1 From: <ceo@example\.test>/),
    });
  });

  it('names the user by the provider usernameClaim and applies that provider allowedFrom', async () => {
    const jwt = await token({ key, issuer: 'https://apps.example.test', audience: 'mxkit', claims: { sub: 'billing-service' } });
    const info = await oauthTransport(jwt, 'billing-service').sendMail({ from: 'invoices@app.example.test', to: 'someone@elsewhere.test', text: 'x' });
    expect(info.response).toMatch(/^250 /);
  });

  it('answers a bad OAUTHBEARER token with the RFC 7628 error challenge, then 535 5.7.8 after the client dummy response', async () => {
    const smtp = await dialog('127.0.0.21');
    const challenge = await smtp.command(`AUTH OAUTHBEARER ${oauthBearer('alice@example.test', await token({ key, expiresIn: -600 }))}`);
    expect(challenge.code).toBe(334);
    expect(JSON.parse(Buffer.from(challenge.text, 'base64').toString())).toEqual({
      status: 'invalid_token',
      schemes: 'bearer',
      'openid-configuration': `${ISSUER}/.well-known/openid-configuration`,
    });
    const final = await smtp.command('AQ==');
    expect(final.lines).toEqual(['535 5.7.8 Authentication credentials invalid']);
    // The session is still usable: a good token logs in.
    const good = await smtp.command(`AUTH OAUTHBEARER ${oauthBearer('alice@example.test', await token({ key }))}`);
    expect(good.lines).toEqual(['235 2.7.0 Authentication successful']);
    smtp.close();
  });

  it('refuses, with the same sequence, XOAUTH2 tokens for another audience, from an unknown issuer, and alg "none"', async () => {
    const cases = [
      { from: '127.0.0.26', jwt: await token({ key, audience: 'https://graph.example' }), reason: 'wrong_audience' },
      { from: '127.0.0.27', jwt: await token({ key, issuer: 'https://evil.example' }), reason: 'unknown_issuer' },
      { from: '127.0.0.28', jwt: unsecuredToken({}), reason: 'alg_not_allowed' },
    ];
    for (const { from, jwt, reason } of cases) {
      const smtp = await dialog(from);
      const challenge = await smtp.command(`AUTH XOAUTH2 ${xoauth2('alice@example.test', jwt)}`);
      expect(challenge.code).toBe(334);
      expect(await smtp.command('')).toMatchObject({ lines: ['535 5.7.8 Authentication credentials invalid'] });
      smtp.close();
      const logged = t.logs.filter((line) => line.includes(`"${from}"`) && line.includes('AUTH failed')).map((line) => (JSON.parse(line) as { reason: string }).reason);
      expect(logged).toEqual([reason]);
    }
  });

  it('gives nodemailer with an expired token 535 5.7.8 (it answers the error challenge itself)', async () => {
    const transport = relayTransport(t, { localAddress: '127.0.0.29', auth: { type: 'OAuth2', user: 'alice@example.test', accessToken: await token({ key, expiresIn: -600 }) } });
    await expect(transport.sendMail({ from: 'alice@example.test', to: 'someone@elsewhere.test', text: 'x' })).rejects.toMatchObject({
      code: 'EAUTH',
      response: '535 5.7.8 Authentication credentials invalid',
    });
  });

  it('takes the token after an empty challenge when the client sends no initial response', async () => {
    const smtp = await dialog('127.0.0.23');
    expect((await smtp.command('AUTH OAUTHBEARER')).lines).toEqual(['334 ']);
    expect((await smtp.command(oauthBearer('alice@example.test', await token({ key })))).lines).toEqual(['235 2.7.0 Authentication successful']);
    smtp.close();
  });

  it('refuses a malformed client response with 501 and does not count it as a login', async () => {
    const smtp = await dialog('127.0.0.24');
    expect((await smtp.command(`AUTH OAUTHBEARER ${b64('p=tls-unique,,\x01auth=Bearer x\x01\x01')}`)).code).toBe(501);
    expect((await smtp.command(`AUTH XOAUTH2 ${b64('user=alice\x01auth=Basic abc\x01\x01')}`)).code).toBe(501);
    expect((await smtp.command('AUTH XOAUTH2 !!!')).code).toBe(501);
    smtp.close();
  });

  it('counts bad tokens and bad passwords toward the same per-address throttle (421 4.7.0), and never logs a token', async () => {
    const smtp = await dialog('127.0.0.25');
    const expired = await token({ key, expiresIn: -600 });
    for (let index = 0; index < 2; index++) {
      expect((await smtp.command(`AUTH XOAUTH2 ${xoauth2('alice@example.test', expired)}`)).code).toBe(334);
      expect((await smtp.command('')).code).toBe(535);
    }
    expect((await smtp.command(`AUTH PLAIN ${b64(`\0app\0wrong-${PASSWORD}`)}`)).lines[0]).toMatch(/^421 4\.7\.0 /);
    const again = await dialog('127.0.0.25');
    expect((await again.command(`AUTH XOAUTH2 ${xoauth2('alice@example.test', await token({ key }))}`)).lines[0]).toMatch(/^421 4\.7\.0 /);
    again.close();
    smtp.close();
    expect(t.logs.join('\n')).not.toContain(expired.split('.')[2]);
  });
});
