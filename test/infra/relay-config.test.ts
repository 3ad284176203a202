import { parseRelayConfig } from '../../relay/src/config/schema';
import {
  ACME_DIRECTORIES,
  buildRelayConfig,
  filesUnder,
  HOST_FILES,
  redactRelayConfig,
  REDACTED,
  type RelayConfigBuildInput,
} from '../../infra/builders/relay-config';

const HASH = '$scrypt$N=16384,r=8,p=1$c2FsdA$aGFzaA';
const base: RelayConfigBuildInput = {
  hostname: 'mail.example.com',
  domains: ['example.com'],
  files: HOST_FILES,
  dkimSelector: 'mx1',
  users: [{ username: 'app', passwordHash: HASH, allowedFrom: ['*@example.com'] }],
  routes: [
    { match: 'postmaster@example.com', forward: ['ops@example.net'] },
    { match: '*@example.com', forward: ['inbox@example.net'] },
  ],
  tls: { mode: 'self-signed' },
};

describe('relay config builder', () => {
  test('builds a self-signed deployment config that the relay schema accepts', () => {
    const config = parseRelayConfig(buildRelayConfig(base));
    expect(config.tls).toEqual({ certFile: '/run/mxkit/tls.crt', keyFile: '/run/mxkit/tls.key' });
    expect(config.dkim).toEqual([{ domain: 'example.com', selector: 'mx1', keyFile: '/run/mxkit/dkim.key' }]);
    expect(config.listen).toEqual({
      mx: { host: '0.0.0.0', port: 25 },
      submission: { host: '0.0.0.0', port: 587 },
      submissions: { host: '0.0.0.0', port: 465 },
      http: { host: '127.0.0.1', port: 8025 },
    });
    expect(config.spoolDir).toBe('/var/lib/mxkit/spool');
    expect(config.delivery.smarthost).toBeNull();
  });

  test('builds an ACME config with the account key, the host and MTA-STS names, and ports 80/443', () => {
    const config = parseRelayConfig(
      buildRelayConfig({ ...base, tls: { mode: 'acme', email: 'ops@example.com' }, mtaSts: { mode: 'testing', maxAge: '7d' } }),
    );
    // The relay schema fills in its own ACME timing defaults; the builder's choices are these.
    expect(config.tls).toMatchObject({
      acme: {
        directoryUrl: ACME_DIRECTORIES.acme,
        accountKeyFile: '/run/mxkit/acme-account.key',
        email: 'ops@example.com',
        names: ['mail.example.com', 'mta-sts.example.com'],
        stateDir: '/var/lib/mxkit/acme',
      },
    });
    expect(config.listen.acmeHttp).toEqual({ host: '0.0.0.0', port: 80 });
    expect(config.listen.https).toEqual({ host: '0.0.0.0', port: 443 });
    expect(config.mtaSts).toEqual({ mode: 'testing', maxAge: '7d' });
  });

  test('uses the Let\'s Encrypt staging directory for acme-staging', () => {
    const document = buildRelayConfig({ ...base, tls: { mode: 'acme-staging', email: 'ops@example.com' } });
    expect(document.tls?.acme?.directoryUrl).toBe('https://acme-staging-v02.api.letsencrypt.org/directory');
    expect(document.listen.https).toBeUndefined();
  });

  test('points the smarthost password at a file, never inline', () => {
    const document = buildRelayConfig({ ...base, smarthost: { host: 'smtp.example.net', port: 587, username: 'relay', hasPassword: true } });
    expect(parseRelayConfig(document).delivery.smarthost).toEqual({ host: 'smtp.example.net', port: 587, username: 'relay', passwordFile: '/run/mxkit/smarthost.password' });
  });

  test('refuses a smarthost username without a password, which the relay could not start with', () => {
    expect(() => buildRelayConfig({ ...base, smarthost: { host: 'smtp.example.net', port: 587, username: 'relay', hasPassword: false } })).toThrow(
      'relay config: delivery.smarthost.passwordFile: is required when delivery.smarthost.username is set',
    );
  });

  test('takes local paths and ports for mxkit local, with the same builder', () => {
    const files = filesUnder('/tmp/state/secrets', '/tmp/state/data');
    const document = buildRelayConfig({
      ...base,
      files,
      listen: { mx: { host: '127.0.0.1', port: 2525 }, submission: { host: '127.0.0.1', port: 2587 }, submissions: undefined },
      delivery: { dnsServers: ['127.0.0.1:5353'], port: 2526 },
    });
    const config = parseRelayConfig(document);
    expect(config.spoolDir).toBe('/tmp/state/data/spool');
    expect(config.listen.mx).toEqual({ host: '127.0.0.1', port: 2525 });
    expect(config.listen.submissions).toBeUndefined();
    expect(config.delivery).toMatchObject({ dnsServers: ['127.0.0.1:5353'], port: 2526 });
    expect(JSON.parse(JSON.stringify(document))).toEqual(document);
  });

  test('converts IDN domains, route and sender patterns to A-labels', () => {
    const config = parseRelayConfig(
      buildRelayConfig({
        ...base,
        hostname: 'mail.bücher.example',
        domains: ['bücher.example'],
        users: [{ username: 'app', passwordHash: HASH, allowedFrom: ['*@bücher.example'] }],
        routes: [{ match: 'info@bücher.example', forward: ['ops@bücher.example'] }],
      }),
    );
    expect(config.hostname).toBe('mail.xn--bcher-kva.example');
    expect(config.domains).toEqual(['xn--bcher-kva.example']);
    expect(config.users[0].allowedFrom).toEqual(['*@xn--bcher-kva.example']);
    expect(config.routes[0]).toEqual({ match: 'info@xn--bcher-kva.example', forward: ['ops@xn--bcher-kva.example'] });
  });

  test('fails with the relay schema\'s field-naming message when the result would be invalid', () => {
    expect(() => buildRelayConfig({ ...base, users: [{ username: 'app', passwordHash: 'plain', allowedFrom: ['*@example.com'] }] })).toThrow(
      'relay config: users[0].passwordHash: must be a hash printed by `mxkit hash-password`',
    );
    expect(() => buildRelayConfig({ ...base, routes: [{ match: '*@other.example', forward: ['x@example.net'] }] })).toThrow(
      'routes[0].match: domain other.example is not in domains',
    );
  });

  test('redacts password hashes and nothing else', () => {
    const document = buildRelayConfig(base);
    const redacted = redactRelayConfig(document);
    expect(JSON.stringify(redacted)).not.toContain(HASH);
    expect(redacted.users).toEqual([{ username: 'app', passwordHash: REDACTED, allowedFrom: ['*@example.com'] }]);
    expect({ ...redacted, users: document.users }).toEqual(document);
  });
});
