import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { oauthProviderSchema, type OAuthProvider } from '../../../relay/src/config/oauth-schema';
import { ConfigError } from '../../../relay/src/config/schema';
import { MAX_KEY_SET_BYTES } from '../../../relay/src/intake/oauth/key-set';
import { OAuthVerifier } from '../../../relay/src/intake/oauth/token-verifier';
import { AUDIENCE, hmacForgery, ISSUER, signingKey, startJwksServer, token, unsecuredToken, type JwksServer, type SigningKey } from '../../helpers/oauth';
import { tempDir } from '../../helpers/relay';

let first: SigningKey;
let second: SigningKey;
let other: SigningKey;
let jwks: JwksServer;

beforeAll(async () => {
  [first, second, other] = await Promise.all([signingKey('k1'), signingKey('k2', 'ES256'), signingKey('stranger')]);
  jwks = await startJwksServer([first]);
});
afterAll(() => jwks.close());

function provider(overrides: Partial<OAuthProvider> = {}): OAuthProvider {
  return oauthProviderSchema().parse({ issuer: ISSUER, jwksUrl: jwks.url, audience: AUDIENCE, allowedFrom: ['self'], ...overrides });
}

async function verifier(providers: OAuthProvider[] = [provider()], cooldownMs = 0): Promise<OAuthVerifier> {
  return OAuthVerifier.create(providers, { cache: { refetchCooldownMs: cooldownMs } });
}

describe('OAuth bearer tokens', () => {
  beforeEach(() => jwks.publish([first]));

  it('accepts a valid token and names the user by the email claim, with "self" as the allowed sender', async () => {
    const verdict = await (await verifier()).verify(await token({ key: first }));
    expect(verdict).toEqual({ ok: true, identity: { username: 'alice@example.test', issuer: ISSUER, allowedFrom: ['alice@example.test'] } });
  });

  it('uses the configured usernameClaim, and refuses a token that lacks it', async () => {
    const check = await verifier([provider({ usernameClaim: 'upn', allowedFrom: ['*@example.test'] })]);
    expect(await check.verify(await token({ key: first, claims: { upn: 'bob@example.test' } }))).toMatchObject({ ok: true, identity: { username: 'bob@example.test', allowedFrom: ['*@example.test'] } });
    expect(await check.verify(await token({ key: first }))).toMatchObject({ ok: false, reason: 'no_username' });
  });

  it('refuses an expired token, and one not valid yet, beyond the 60 s clock skew', async () => {
    const check = await verifier();
    expect(await check.verify(await token({ key: first, expiresIn: -120 }))).toMatchObject({ ok: false, reason: 'expired' });
    expect(await check.verify(await token({ key: first, notBefore: 600 }))).toMatchObject({ ok: false, reason: 'not_yet_valid' });
    // Within the skew both pass: a provider whose clock runs 30 s apart still works.
    expect(await check.verify(await token({ key: first, expiresIn: -30 }))).toMatchObject({ ok: true });
    expect(await check.verify(await token({ key: first, notBefore: 30 }))).toMatchObject({ ok: true });
  });

  it('refuses a token for another audience', async () => {
    expect(await (await verifier()).verify(await token({ key: first, audience: 'https://graph.example' }))).toMatchObject({ ok: false, reason: 'wrong_audience' });
  });

  it('refuses a token from an issuer that is not configured, and one signed by a key its issuer does not publish', async () => {
    const check = await verifier();
    expect(await check.verify(await token({ key: first, issuer: 'https://evil.example' }))).toMatchObject({ ok: false, reason: 'unknown_issuer' });
    const stranger = await token({ key: { ...other, kid: 'k1' } });
    expect(await check.verify(stranger)).toMatchObject({ ok: false, reason: 'bad_signature', issuer: ISSUER });
  });

  it('fetches the key set again when a token names a new kid after a key rotation, and then accepts it', async () => {
    const check = await verifier();
    expect(await check.verify(await token({ key: first }))).toMatchObject({ ok: true });
    const before = jwks.requests;
    jwks.publish([first, second]);
    expect(await check.verify(await token({ key: second }))).toMatchObject({ ok: true });
    expect(jwks.requests).toBe(before + 1);
  });

  it('refetches at most once per cooldown, however many unknown kids arrive', async () => {
    const check = await verifier([provider()], 60_000);
    expect(await check.verify(await token({ key: first }))).toMatchObject({ ok: true });
    const before = jwks.requests;
    const forged = await Promise.all(Array.from({ length: 20 }, (_, index) => token({ key: { ...other, kid: `made-up-${index}` } })));
    const verdicts = await Promise.all(forged.map((jwt) => check.verify(jwt)));
    expect(verdicts.every((verdict) => !verdict.ok && verdict.reason === 'unknown_key')).toBe(true);
    expect(jwks.requests - before).toBeLessThanOrEqual(1);
  });

  it('refuses alg "none" and an HMAC token keyed with the public key (algorithm confusion)', async () => {
    const check = await verifier();
    expect(await check.verify(unsecuredToken({}))).toMatchObject({ ok: false, reason: 'alg_not_allowed' });
    expect(await check.verify(await hmacForgery(first))).toMatchObject({ ok: false, reason: 'alg_not_allowed' });
  });

  it('refuses garbage, an over-long token and a user name that differs from the claim', async () => {
    const check = await verifier();
    expect(await check.verify('not.a.jwt')).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await check.verify('x'.repeat(20_000))).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await check.verify(await token({ key: first }), 'mallory@example.test')).toMatchObject({ ok: false, reason: 'user_mismatch' });
    expect(await check.verify(await token({ key: first }), 'ALICE@example.test')).toMatchObject({ ok: true });
  });

  it('says the keys are unavailable when the provider serves something that is not a key set, or too much', async () => {
    jwks.serveRaw('<html>maintenance</html>');
    expect(await (await verifier()).verify(await token({ key: first }))).toMatchObject({ ok: false, reason: 'keys_unavailable' });
    jwks.serveRaw(JSON.stringify({ keys: [], padding: 'x'.repeat(MAX_KEY_SET_BYTES) }));
    const verdict = await (await verifier()).verify(await token({ key: first }));
    expect(verdict).toMatchObject({ ok: false, reason: 'keys_unavailable' });
    expect(!verdict.ok && verdict.detail).toContain(`larger than ${MAX_KEY_SET_BYTES} bytes`);
  });

  it('keeps using the keys it has while the provider is down', async () => {
    const check = await OAuthVerifier.create([provider()], { cache: { maxAgeMs: 0, refetchCooldownMs: 0 } });
    expect(await check.verify(await token({ key: first }))).toMatchObject({ ok: true });
    jwks.serveRaw('down', 503);
    expect(await check.verify(await token({ key: first }))).toMatchObject({ ok: true });
  });

  it('reads a jwksFile when built, and refuses to be built from a file that is not a key set (naming the field)', async () => {
    const dir = tempDir();
    const good = join(dir, 'keys.json');
    writeFileSync(good, JSON.stringify({ keys: [first.jwk] }));
    const fromFile = await OAuthVerifier.create([provider({ jwksUrl: undefined, jwksFile: good })]);
    expect(await fromFile.verify(await token({ key: first }))).toMatchObject({ ok: true });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"keys": "none"}');
    const attempt = OAuthVerifier.create([provider(), provider({ issuer: 'https://other.example', jwksUrl: undefined, jwksFile: bad })]);
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toThrow(/^auth\.oauth\[1\]\.jwksFile: .*bad\.json is not a JSON Web Key Set/);
  });

  it('sends the RFC 7628 error challenge, pointing at the discovery document of a known issuer', async () => {
    const check = await verifier();
    expect(check.errorChallenge(ISSUER)).toEqual({ status: 'invalid_token', schemes: 'bearer', 'openid-configuration': `${ISSUER}/.well-known/openid-configuration` });
    expect(check.errorChallenge('https://evil.example')).toEqual({ status: 'invalid_token', schemes: 'bearer' });
  });
});

describe('auth.oauth config', () => {
  it('needs exactly one of jwksUrl and jwksFile, HTTPS off loopback, and at least one allowed sender', () => {
    const parse = (input: Record<string, unknown>) => oauthProviderSchema().safeParse({ issuer: ISSUER, audience: AUDIENCE, allowedFrom: ['self'], ...input });
    expect(parse({}).success).toBe(false);
    expect(parse({ jwksUrl: 'https://idp.example/keys', jwksFile: '/k.json' }).success).toBe(false);
    expect(parse({ jwksUrl: 'http://idp.example/keys' }).success).toBe(false);
    expect(parse({ jwksUrl: 'http://127.0.0.1:8080/keys' }).success).toBe(true);
    expect(parse({ jwksUrl: 'https://idp.example/keys', allowedFrom: [] }).success).toBe(false);
    expect(parse({ jwksUrl: 'https://idp.example/keys', allowedFrom: ['anyone'] }).success).toBe(false);
    expect(parse({ jwksUrl: 'https://idp.example/keys' }).data?.usernameClaim).toBe('email');
  });
});
