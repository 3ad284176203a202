import { parseRelayConfig } from '../../relay/src/config/schema';
import { describeStackProgram, parameter, recordsOf, userDataOf } from './helpers/invariants';
import { TEST_SMARTHOST_PASSWORD } from './helpers/stack';
import { isSecretValue } from './helpers/mocks';

describeStackProgram('test-example', (get) => {
  test('defaults the host name to mail.<domain>', () => {
    expect(get().outputs.hostname.value).toBe('mail.test.example.com');
  });

  test('uses the Let\'s Encrypt staging directory', () => {
    const config = parseRelayConfig(JSON.parse(String(parameter(get(), 'relay.json')?.plain.value)));
    expect(config.tls?.acme?.directoryUrl).toBe('https://acme-staging-v02.api.letsencrypt.org/directory');
  });

  test('sends through the smarthost, with its password in SSM and its SPF include published', () => {
    const config = parseRelayConfig(JSON.parse(String(parameter(get(), 'relay.json')?.plain.value)));
    expect(config.delivery.smarthost).toEqual({
      host: 'email-smtp.eu-west-1.amazonaws.com',
      port: 587,
      username: 'AKIAEXAMPLEEXAMPLE00',
      passwordFile: '/run/mxkit/smarthost.password',
    });
    const password = parameter(get(), 'smarthost.password');
    expect(isSecretValue(password?.inputs.value)).toBe(true);
    expect(password?.plain.value).toBe(TEST_SMARTHOST_PASSWORD);
    expect(userDataOf(get())).not.toContain(TEST_SMARTHOST_PASSWORD);
    const spf = recordsOf(get()).find((r) => r.name === 'test.example.com' && r.type === 'TXT');
    expect(spf?.content).toBe('"v=spf1 ip4:203.0.113.25 include:amazonses.com -all"');
  });
});
