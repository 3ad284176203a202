import { testStackConfig } from '../../infra/deploy-test/stack-config';
import type { StackConfig } from '../../infra/deploy-test/orchestrate';

const template: StackConfig = {
  'mxkit:domain': { value: 'test.example.com' },
  'mxkit:hostname': { value: 'mail.test.example.com' },
  'mxkit:reportsTo': { value: 'dmarc@example.com' },
  'mxkit:routes': { value: '[{"match":"*@test.example.com","forward":["test-inbox@example.net"]}]' },
  'mxkit:users': { value: '[{"username":"app","passwordHash":"$scrypt$x","allowedFrom":["*@test.example.com","app@example.net"]}]', secret: true },
  'cloudflare:apiToken': { value: 't0ken', secret: true },
};

describe('a test stack made from a template', () => {
  test('gets its own mail domain under the template\'s, with the host, routes and senders moved along', () => {
    const config = testStackConfig(template, {}, 'test-alice');
    expect(config['mxkit:domain'].value).toBe('alice.test.example.com');
    expect(config['mxkit:hostname'].value).toBe('mail.alice.test.example.com');
    expect(JSON.parse(config['mxkit:routes'].value)).toEqual([{ match: '*@alice.test.example.com', forward: ['test-inbox@example.net'] }]);
    expect(JSON.parse(config['mxkit:users'].value)[0].allowedFrom).toEqual(['*@alice.test.example.com', 'app@example.net']);
    expect(config['mxkit:users'].secret).toBe(true);
    expect(config['mxkit:reportsTo'].value).toBe('dmarc@example.com');
    expect(config['mxkit:ephemeral']).toEqual({ value: 'true' });
  });

  test('two stacks from one template publish at different names of the zone', () => {
    const alice = testStackConfig(template, {}, 'test-alice');
    const bob = testStackConfig(template, {}, 'test-bob');
    expect(alice['mxkit:domain'].value).not.toBe(bob['mxkit:domain'].value);
    expect(alice['mxkit:hostname'].value).not.toBe(bob['mxkit:hostname'].value);
  });

  test('takes an mxkit:domain override as given and moves the template\'s addresses there', () => {
    const config = testStackConfig(template, { 'mxkit:domain': { value: 't1.example.org' } }, 'test-alice');
    expect(config['mxkit:domain'].value).toBe('t1.example.org');
    expect(JSON.parse(config['mxkit:routes'].value)[0].match).toBe('*@t1.example.org');
  });

  test('drops a host name outside the template\'s domain, which two stacks would share', () => {
    const config = testStackConfig({ ...template, 'mxkit:hostname': { value: 'mx.shared.example.org' } }, {}, 'test-alice');
    expect(config['mxkit:hostname']).toBeUndefined();
  });
});
