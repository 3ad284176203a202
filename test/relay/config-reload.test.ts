import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RelayConfigInput } from '../../relay/src/config/schema';
import { hashPassword } from '../../relay/src/intake/password';
import { startChildRelay } from '../helpers/child-relay';
import { HOSTNAME, PASSWORD, startTestRelay, writeRelayFiles, type TestRelay } from '../helpers/relay';
import { SmtpDialog } from '../helpers/smtp-dialog';
import { relayTransport, smtpTransport } from '../helpers/submit';
import { AUDIENCE, ISSUER, signingKey, startJwksServer, token } from '../helpers/oauth';

const NEW_PASSWORD = 'a brand new password for carol';
const b64 = (text: string) => Buffer.from(text).toString('base64');
const plain = (user: string, password: string) => `AUTH PLAIN ${b64(`\0${user}\0${password}`)}`;

function rewrite(t: { configPath: string }, change: (config: RelayConfigInput) => void): void {
  const config = JSON.parse(readFileSync(t.configPath, 'utf8')) as RelayConfigInput;
  change(config);
  writeFileSync(t.configPath, JSON.stringify(config, null, 2));
}

async function loggedIn(t: TestRelay, user: string, password: string, localAddress = '127.0.0.1'): Promise<{ smtp: SmtpDialog; reply: string }> {
  const smtp = await SmtpDialog.open(t.port('submissions'), { localAddress, implicitTls: { ca: t.certificate.cert, servername: HOSTNAME } });
  await smtp.greet();
  const reply = await smtp.command(plain(user, password));
  return { smtp, reply: reply.lines[0] };
}

async function metric(t: TestRelay, pattern: RegExp): Promise<string | undefined> {
  return (await t.relay.metrics.registry.metrics()).split('\n').find((line) => pattern.test(line));
}

describe('config reload (SIGHUP)', () => {
  let t: TestRelay;
  let carolHash: string;
  beforeAll(async () => {
    carolHash = await hashPassword(NEW_PASSWORD);
  });
  beforeEach(async () => {
    t = await startTestRelay();
  });
  afterEach(() => t.stop());

  it('lets a new user log in and refuses a removed one, while a session opened before finishes its message', async () => {
    const before = await loggedIn(t, 'app', PASSWORD);
    expect(before.reply).toMatch(/^235 /);
    rewrite(t, (config) => {
      config.users = [{ username: 'carol', passwordHash: carolHash, allowedFrom: ['carol@example.test'] }];
    });
    expect(await t.relay.reloadConfig()).toMatchObject({ applied: true, needsRestart: [] });

    // The session that logged in before the reload keeps the rules it started with.
    expect((await before.smtp.command('MAIL FROM:<app@example.test>')).code).toBe(250);
    expect((await before.smtp.command('RCPT TO:<someone@elsewhere.test>')).code).toBe(250);
    expect((await before.smtp.data('Subject: started before the reload\r\n\r\nbody')).lines[0]).toMatch(/^250 2\.6\.0 Ok: queued as /);
    before.smtp.close();

    const removed = await loggedIn(t, 'app', PASSWORD);
    expect(removed.reply).toBe('535 5.7.8 Authentication credentials invalid');
    removed.smtp.close();
    const added = await relayTransport(t, { listener: 'submission', auth: { user: 'carol', pass: NEW_PASSWORD } }).sendMail({ from: 'carol@example.test', to: 'someone@elsewhere.test', text: 'hello' });
    expect(added.response).toMatch(/^250 /);
    expect(await metric(t, /^mxkit_config_reloads_total\{result="applied"\}/)).toMatch(/ 1$/);
  });

  it('refuses a file that does not validate: one log line naming the field, a metric, and nothing changes', async () => {
    const revision = await metric(t, /^mxkit_config_info\{/);
    rewrite(t, (config) => {
      config.users = [{ username: 'carol', passwordHash: 'plain-text-password', allowedFrom: ['carol@example.test'] }];
    });
    const logsBefore = t.logs.length;
    const result = await t.relay.reloadConfig();
    expect(result).toEqual({ applied: false, error: expect.stringContaining('users[0].passwordHash: must be a hash printed by `mxkit hash-password`') });
    const refusals = t.logs.slice(logsBefore).filter((line) => /"level":50/.test(line));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain('config reload refused, still running the previous config: users[0].passwordHash');
    expect(await metric(t, /^mxkit_config_reloads_total\{result="refused"\}/)).toMatch(/ 1$/);
    expect(await metric(t, /^mxkit_config_last_reload_successful /)).toBe('mxkit_config_last_reload_successful 0');
    expect(await metric(t, /^mxkit_config_info\{/)).toBe(revision);
    const still = await loggedIn(t, 'app', PASSWORD);
    expect(still.reply).toMatch(/^235 /);
    still.smtp.close();
  });

  it('refuses a file that is not JSON, and one naming a DKIM key it cannot read, keeping the running config', async () => {
    writeFileSync(t.configPath, '{ "hostname": ');
    expect(await t.relay.reloadConfig()).toEqual({ applied: false, error: expect.stringMatching(/is not valid JSON/) });
    const files = await writeRelayFiles((config, dir) => {
      config.dkim = [{ domain: 'example.test', selector: 's1', keyFile: join(dir, 'missing.key') }];
    });
    writeFileSync(t.configPath, JSON.stringify({ ...files.config, spoolDir: t.config.spoolDir, listen: t.config.listen, tls: t.config.tls }));
    expect(await t.relay.reloadConfig()).toEqual({ applied: false, error: expect.stringMatching(/^dkim\[0\]\.keyFile: cannot read .*missing\.key: ENOENT/) });
    const still = await loggedIn(t, 'app', PASSWORD);
    expect(still.reply).toMatch(/^235 /);
    still.smtp.close();
  });

  it('says that changed listeners and spoolDir need a restart, and keeps the running ones', async () => {
    const mxPort = t.port('mx');
    rewrite(t, (config) => {
      config.listen.mx = { host: '127.0.0.1', port: 1 };
      config.spoolDir = join(t.dir, 'elsewhere');
      config.routes = [...(config.routes ?? []), { match: 'sales@example.test', forward: ['crm@elsewhere.test'] }];
    });
    const result = await t.relay.reloadConfig();
    expect(result).toEqual({ applied: true, revision: expect.stringMatching(/^[0-9a-f]{12}$/), needsRestart: ['listen.mx', 'spoolDir'] });
    expect(t.logs.some((line) => line.includes('"level":40') && line.includes('listen.mx, spoolDir changed; they take effect only after a restart'))).toBe(true);
    // Same socket, and the route added by the same reload is in force for new sessions.
    const smtp = await SmtpDialog.open(mxPort);
    await smtp.greet();
    expect((await smtp.command('MAIL FROM:<someone@elsewhere.test>')).code).toBe(250);
    expect((await smtp.command('RCPT TO:<sales@example.test>')).code).toBe(250);
    smtp.close();
    expect(t.relay.spool.root).toBe(t.config.spoolDir);
  });

  it('starts offering OAuth when a reload adds auth.oauth', async () => {
    const key = await signingKey('k1');
    const jwks = await startJwksServer([key]);
    try {
      rewrite(t, (config) => {
        config.auth = { oauth: [{ issuer: ISSUER, jwksUrl: jwks.url, audience: AUDIENCE, allowedFrom: ['self'] }] };
      });
      expect(await t.relay.reloadConfig()).toMatchObject({ applied: true });
      const info = await relayTransport(t, { auth: { type: 'OAuth2', user: 'alice@example.test', accessToken: await token({ key }) } }).sendMail({ from: 'alice@example.test', to: 'someone@elsewhere.test', text: 'x' });
      expect(info.response).toMatch(/^250 /);
    } finally {
      await jwks.close();
    }
  });
});

describe('SIGHUP to the relay process', () => {
  it('reloads the users from the config file', async () => {
    const files = await writeRelayFiles();
    const relay = await startChildRelay(files.configPath);
    try {
      const carolHash = await hashPassword(NEW_PASSWORD);
      rewrite(files, (config) => {
        config.users = [{ username: 'carol', passwordHash: carolHash, allowedFrom: ['carol@example.test'] }];
      });
      relay.process.kill('SIGHUP');
      await relay.waitFor(/"msg":"config reloaded/);
      const transport = (user: string, pass: string) =>
        smtpTransport({ port: relay.ports.submissions, ca: files.certificate.cert }, { auth: { user, pass } });
      await expect(transport('carol', NEW_PASSWORD).verify()).resolves.toBe(true);
      await expect(transport('app', PASSWORD).verify()).rejects.toMatchObject({ responseCode: 535 });
    } finally {
      relay.process.kill('SIGTERM');
      await relay.exited;
    }
  });
});
