import { createPrivateKey, createPublicKey } from 'node:crypto';
import { sesSigningKey, SES_SANDBOX_REMINDER } from '../../infra/builders/ses';
import { parseRelayConfig } from '../../relay/src/config/schema';
import { describeStackProgram, parameter, recordsOf, userDataOf } from './helpers/invariants';
import { isSecretValue, mockKeyPair, MOCK_ACCESS_KEY_ID, MOCK_SES_SMTP_PASSWORD } from './helpers/mocks';
import { one, ofType } from './helpers/stack';

type Statement = { Effect: string; Action: string | string[]; Resource: string | string[] };

describeStackProgram('test-example', (get) => {
  test('defaults the host name to mail.<domain>', () => {
    expect(get().outputs.hostname.value).toBe('mail.test.example.com');
  });

  test('uses the Let\'s Encrypt staging directory', () => {
    const config = parseRelayConfig(JSON.parse(String(parameter(get(), 'relay.json')?.plain.value)));
    expect(config.tls?.acme?.directoryUrl).toBe('https://acme-staging-v02.api.letsencrypt.org/directory');
  });

  describe('mxkit:outbound ses', () => {
    test('makes the domain an SES identity with BYODKIM: the relay\'s own DKIM key (PKCS#8 base64, a secret) and selector', () => {
      const identity = one(get(), 'aws:sesv2/emailIdentity:EmailIdentity');
      expect(identity.plain.emailIdentity).toBe('test.example.com');
      expect((identity.plain.dkimSigningAttributes as Record<string, unknown>).domainSigningSelector).toBe(get().outputs.dkimSelector.value);
      // The key makes the whole block a secret on the wire (Pulumi lifts nested secrets).
      expect(isSecretValue(identity.inputs.dkimSigningAttributes)).toBe(true);
      const given = String((identity.plain.dkimSigningAttributes as Record<string, unknown>).domainSigningPrivateKey);
      expect(given).toBe(sesSigningKey(mockKeyPair().privateKeyPem));
      expect(given).toMatch(/^[A-Za-z0-9+/]+=*$/); // no PEM armour, no line breaks
      // One key, one DNS record: what SES signs with verifies against the record the relay publishes.
      const published = createPublicKey(createPrivateKey({ key: Buffer.from(given, 'base64'), format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' }).toString('base64');
      const dkim = recordsOf(get()).find((r) => String(r.name).startsWith(`${String(get().outputs.dkimSelector.value)}._domainkey.`));
      expect([...String(dkim?.content).matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('')).toBe(`v=DKIM1; k=rsa; p=${published}`);
    });

    test('sets the custom MAIL FROM domain bounce.<domain> and publishes its MX and SPF on Cloudflare, and include:amazonses.com at the apex', () => {
      expect(one(get(), 'aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes').plain).toMatchObject({
        emailIdentity: 'test.example.com',
        mailFromDomain: 'bounce.test.example.com',
        behaviorOnMxFailure: 'USE_DEFAULT_VALUE',
      });
      const records = recordsOf(get());
      expect(records.filter((r) => r.name === 'bounce.test.example.com').map((r) => [r.type, r.content, r.priority]).sort()).toEqual([
        ['MX', 'feedback-smtp.eu-west-1.amazonses.com', 10],
        ['TXT', '"v=spf1 include:amazonses.com -all"', undefined],
      ]);
      expect(records.find((r) => r.name === 'test.example.com' && r.type === 'TXT')?.content).toBe('"v=spf1 ip4:203.0.113.25 include:amazonses.com -all"');
    });

    test('gives the SMTP user one permission: ses:SendRawEmail on that identity', () => {
      const user = one(get(), 'aws:iam/user:User');
      const policy = one(get(), 'aws:iam/userPolicy:UserPolicy');
      expect(policy.plain.user).toBe(user.name);
      const document = JSON.parse(String(policy.plain.policy)) as { Statement: Statement[] };
      expect(document.Statement).toEqual([
        expect.objectContaining({ Effect: 'Allow', Action: 'ses:SendRawEmail', Resource: 'arn:aws:ses:eu-west-1:123456789012:identity/test.example.com' }),
      ]);
      expect(one(get(), 'aws:iam/accessKey:AccessKey').plain.user).toBe(user.name);
      expect(ofType(get(), 'aws:iam/rolePolicy:RolePolicy').map((p) => String(p.plain.policy))).not.toContainEqual(expect.stringContaining('ses:'));
    });

    test('stores the derived SMTP password (sesSmtpPasswordV4) only as an SSM SecureString', () => {
      const password = parameter(get(), 'smarthost.password');
      expect(password?.plain).toMatchObject({ type: 'SecureString', value: MOCK_SES_SMTP_PASSWORD });
      expect(isSecretValue(password?.inputs.value)).toBe(true);
      expect(userDataOf(get())).not.toContain(MOCK_SES_SMTP_PASSWORD);
    });

    test('points the relay at SES: email-smtp.<region>.amazonaws.com:587 with the access key as login, and From rewriting on', () => {
      const config = parseRelayConfig(JSON.parse(String(parameter(get(), 'relay.json')?.plain.value)));
      expect(config.delivery.smarthost).toEqual({
        host: 'email-smtp.eu-west-1.amazonaws.com',
        port: 587,
        username: MOCK_ACCESS_KEY_ID,
        passwordFile: '/run/mxkit/smarthost.password',
      });
      expect(config.forwarding.rewriteFrom).toBe('auto');
      expect((get().outputs.relayConfig.value as { delivery: unknown }).delivery).toEqual(expect.objectContaining({ smarthost: config.delivery.smarthost }));
    });

    test('exports `ses`: the identity\'s verification status and the sandbox reminder, as a plain output', () => {
      expect(get().outputs.ses).toEqual({
        secret: false,
        value: {
          identity: 'test.example.com',
          region: 'eu-west-1',
          smtpEndpoint: 'email-smtp.eu-west-1.amazonaws.com:587',
          mailFromDomain: 'bounce.test.example.com',
          verificationStatus: 'PENDING',
          verifiedForSending: false,
          sandbox: SES_SANDBOX_REMINDER,
        },
      });
    });
  });
});
