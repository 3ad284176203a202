/**
 * Changing users under mocks: two MailServers that differ only in their user list get different
 * config-push revisions and the very same instance user data, so the instance is not replaced.
 */
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import * as mailServer from '../../infra/mail-server';
import { installMocks, resolve, settle, type MockRun } from './helpers/mocks';
import { TEST_HASH } from './helpers/stack';

let run: MockRun;
beforeAll(() => {
  run = installMocks('mxkit', 'config-push');
});

function server(name: string, username: string, routeTo = 'ops@example.net', bundlePath = __filename): mailServer.MailServer {
  return new mailServer.MailServer(name, {
    domain: 'example.org',
    cloudflareZoneId: '0123456789abcdef0123456789abcdef',
    // ACME: no certificate made per resource name, so two servers differ only where the test says.
    tls: 'acme',
    acmeEmail: 'ops@example.org',
    ephemeral: true,
    bundlePath,
    parameterPrefix: '/mxkit/config-push',
    users: pulumi.secret([{ username, passwordHash: TEST_HASH, allowedFrom: ['*@example.org'] }]),
    routes: [{ match: 'postmaster@example.org', forward: [routeTo] }],
  });
}

const of = (prefix: string, type: string) => {
  const found = run.resources.filter((r) => r.name.startsWith(`${prefix}-`) && r.type === type);
  if (found.length !== 1) throw new Error(`expected one ${type} under ${prefix}, found ${found.length}`);
  return found[0].plain;
};
const revision = (prefix: string) => (of(prefix, 'aws:ssm/association:Association').parameters as { revision: string }).revision;
const userData = (prefix: string) => String(of(prefix, 'aws:ec2/instance:Instance').userData);

beforeAll(async () => {
  // e runs another bundle (this project's own helpers file stands in for a new build).
  const servers = [server('a', 'app'), server('b', 'carol'), server('c', 'app', 'someone-else@example.net'), server('d', 'app'), server('e', 'app', 'ops@example.net', join(__dirname, 'helpers', 'mocks.ts'))];
  for (const created of servers) await resolve(created.relayConfig);
  await settle(run);
});

test('a changed mxkit:users (or route) changes the association revision and not the instance user data', () => {
  expect(revision('a')).toMatch(/^[0-9a-f]{32}$/);
  expect(revision('b')).not.toBe(revision('a'));
  expect(revision('c')).not.toBe(revision('a'));
  expect(revision('d')).toBe(revision('a'));
  expect(userData('b')).toBe(userData('a'));
  expect(userData('c')).toBe(userData('a'));
});

test('a new bundle changes the instance user data (the host is replaced) and not the config revision', () => {
  expect(userData('e')).not.toBe(userData('a'));
  expect(revision('e')).toBe(revision('a'));
});
