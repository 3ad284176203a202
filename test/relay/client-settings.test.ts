import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { buildRelayConfig, filesUnder, redactRelayConfig } from '../../infra/builders/relay-config';
import { clientSettingsCommand, type ClientSettings } from '../../relay/src/commands/client-settings';
import { parseCommandLine } from '../../relay/src/commands/contract';
import { BUNDLE } from '../helpers/child-relay';
import { passwordHash, PASSWORD, tempDir } from '../helpers/relay';
import { run } from '../helpers/run';

let configPath: string;
let hash: string;

beforeAll(async () => {
  const dir = tempDir('mxkit-client-settings-');
  hash = await passwordHash();
  const config = buildRelayConfig({
    hostname: 'mail.example.com',
    domains: ['example.com'],
    files: filesUnder(dir, dir),
    dkimSelector: 'mx1',
    tls: { mode: 'acme', email: 'ops@example.com' },
    users: [
      { username: 'anna', passwordHash: hash, allowedFrom: ['anna@example.com'] },
      { username: 'app', passwordHash: hash, allowedFrom: ['*@app.example.com', 'noreply@example.com'] },
    ],
  });
  configPath = join(dir, 'relay.json');
  writeFileSync(configPath, JSON.stringify({ ...config, auth: { oauth: [{ issuer: 'https://login.example.com/t/v2.0', jwksUrl: 'https://login.example.com/keys', audience: 'api://mxkit', usernameClaim: 'upn', allowedFrom: ['self'] }] } }));
});

async function settings(...argv: string[]): Promise<string[]> {
  const lines: string[] = [];
  expect(await clientSettingsCommand.run(parseCommandLine(clientSettingsCommand, ['--config', configPath, ...argv]), (line) => lines.push(line))).toBe(0);
  return lines;
}

describe('mxkit client-settings', () => {
  it('names the server, 465 with SSL/TLS first and 587 with STARTTLS second, and the user name for --user', async () => {
    const text = (await settings('--user', 'anna')).join('\n');
    expect(text).toContain('Server          mail.example.com');
    expect(text).toMatch(/Port {12}465, security SSL\/TLS \(implicit TLS\) {3}<- use this one\n {18}587, security STARTTLS/);
    expect(text).toContain('User name       anna   (the mxkit user name, not necessarily an address)');
    expect(text).toContain('Sends as        anna@example.com');
    expect(text).toContain('it keeps no mailboxes');
  });

  it('gives Thunderbird, Apple Mail, Outlook and Gmail "Send mail as" steps with those values', async () => {
    const text = (await settings('--user', 'app')).join('\n');
    expect(text).toMatch(/^Thunderbird .*\n.*Server Name mail\.example\.com, Port 465, Connection security SSL\/TLS/m);
    expect(text).toMatch(/^Apple Mail .*\n.*Host Name mail\.example\.com/m);
    expect(text).toMatch(/^Outlook .*\n.*Outgoing mail server \(SMTP\) mail\.example\.com;.*\n.*"Log on using" User Name app;/m);
    expect(text).toMatch(/^Gmail .*"Send mail as".*\n.*Email address noreply@example\.com, Next Step; SMTP Server mail\.example\.com, Port 465,/m);
    expect(text).toContain('Sends as        any address @app.example.com, noreply@example.com');
  });

  it('never prints a password or its hash, and says OAuth users log in by their token claim', async () => {
    const text = (await settings('--user', 'app')).join('\n') + (await settings()).join('\n');
    expect(text).not.toContain(hash);
    expect(text).not.toContain(PASSWORD);
    expect(text).toContain('OAuth 2.0       tokens from https://login.example.com/t/v2.0 (XOAUTH2, OAUTHBEARER): user name is the token\'s "upn" claim');
    expect(text).toContain('(users here: anna, app)');
  });

  it('prints JSON for tools, and takes the server name to show from --server', async () => {
    const parsed = JSON.parse((await settings('--json', '--server', '203.0.113.7', '--user', 'anna')).join('\n')) as ClientSettings;
    expect(parsed).toMatchObject({
      server: '203.0.113.7',
      ports: [
        { port: 465, security: 'SSL/TLS' },
        { port: 587, security: 'STARTTLS' },
      ],
      user: { username: 'anna', sendsAs: ['anna@example.com'] },
    });
  });

  it("works from the stack's relayConfig output, whose password hashes are redacted", async () => {
    const redacted = join(tempDir('mxkit-client-settings-'), 'output.json');
    writeFileSync(redacted, JSON.stringify(redactRelayConfig(JSON.parse(readFileSync(configPath, 'utf8')))));
    const lines: string[] = [];
    expect(await clientSettingsCommand.run(parseCommandLine(clientSettingsCommand, ['--config', redacted, '--user', 'anna']), (line) => lines.push(line))).toBe(0);
    expect(lines.join('\n')).toContain('User name       anna');
  });

  it('exits 1 naming the users there are when --user names nobody (through the bundle)', async () => {
    const result = await run(process.execPath, [BUNDLE, 'client-settings', '--config', configPath, '--user', 'bob']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('mxkit: client-settings: no user "bob" in users (there are: anna, app)\n');
    const ok = await run(process.execPath, [BUNDLE, 'client-settings', '--config', configPath]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Outgoing mail (SMTP) settings for mail.example.com');
  });
});
