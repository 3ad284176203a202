import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { RelayConfigInput } from '../../relay/src/config/schema';
import { verifyPassword } from '../../relay/src/intake/password';
import { BUNDLE } from '../helpers/child-relay';
import { tempDir, writeRelayFiles } from '../helpers/relay';
import { run } from '../helpers/run';

async function startWith(mutate: (config: RelayConfigInput, dir: string) => void): Promise<{ code: number | null; stderr: string }> {
  const files = await writeRelayFiles(mutate);
  const result = await run(process.execPath, [BUNDLE, 'relay', '--config', files.configPath]);
  return { code: result.code, stderr: result.stderr };
}

function expectOneLineError(result: { code: number | null; stderr: string }, field: RegExp): void {
  expect(result.code).not.toBe(0);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(field);
}

describe('the relay refuses to start, with one line naming the field, when', () => {
  it('the config file does not exist', async () => {
    const result = await run(process.execPath, [BUNDLE, 'relay', '--config', join(tempDir(), 'missing.json')]);
    expectOneLineError(result, /^mxkit: config error: --config: cannot read .*missing\.json: ENOENT$/);
  });

  it('the config file is not JSON', async () => {
    const path = join(tempDir(), 'broken.json');
    writeFileSync(path, '{ "users": [{ "passwordHash": "$scrypt$secret-looking" ');
    const result = await run(process.execPath, [BUNDLE, 'relay', '--config', path]);
    expectOneLineError(result, /--config: .* is not valid JSON/);
    expect(result.stderr).not.toContain('secret-looking'); // never echo the file's contents
  });

  it('a required field is missing', async () => {
    expectOneLineError(await startWith((config) => Reflect.deleteProperty(config, 'hostname')), /config error: hostname: is required/);
  });

  it('a port is not a number', async () => {
    expectOneLineError(
      await startWith((config) => (config.listen.mx = { host: '127.0.0.1', port: '25' as unknown as number })),
      /listen\.mx\.port: .*expected number/,
    );
  });

  it('a key is misspelt', async () => {
    expectOneLineError(await startWith((config) => Object.assign(config, { spooldir: '/tmp/x' })), /spooldir: is not a known setting/);
  });

  it('a duration is not a duration', async () => {
    expectOneLineError(await startWith((config) => (config.delivery = { maxQueueTime: '5 days' })), /delivery\.maxQueueTime: must be a duration/);
  });

  it('a smarthost has a username but no password file', async () => {
    expectOneLineError(
      await startWith((config) => (config.delivery = { ...config.delivery, smarthost: { host: 'smtp.upstream.test', port: 587, username: 'AKIAEXAMPLE' } })),
      /^mxkit: config error: delivery\.smarthost\.passwordFile: is required when delivery\.smarthost\.username is set$/,
    );
  });

  it('a smarthost password file is empty', async () => {
    expectOneLineError(
      await startWith((config, dir) => {
        writeFileSync(join(dir, 'empty.password'), '\n');
        config.delivery = { ...config.delivery, smarthost: { host: 'smtp.upstream.test', port: 587, username: 'AKIAEXAMPLE', passwordFile: join(dir, 'empty.password') } };
      }),
      /^mxkit: config error: delivery\.smarthost\.passwordFile: .*empty\.password is empty$/,
    );
  });

  it('forwarding.rewriteFrom is not one of auto, always, never', async () => {
    expectOneLineError(await startWith((config) => (config.forwarding = { rewriteFrom: 'sometimes' as 'auto' })), /forwarding\.rewriteFrom: /);
  });

  it('delivery.failedRetention is not a duration', async () => {
    expectOneLineError(await startWith((config) => (config.delivery = { ...config.delivery, failedRetention: 'a week' })), /delivery\.failedRetention: must be a duration/);
  });

  it('a password hash was not made by hash-password', async () => {
    expectOneLineError(
      await startWith((config) => (config.users = [{ username: 'app', passwordHash: 'secret', allowedFrom: ['app@example.test'] }])),
      /users\[0\]\.passwordHash: must be a hash printed by `mxkit hash-password`/,
    );
  });

  it('the TLS certificate cannot be read', async () => {
    expectOneLineError(await startWith((config, dir) => (config.tls = { certFile: join(dir, 'nope.crt'), keyFile: join(dir, 'tls.key') })), /tls\.certFile: cannot read .*nope\.crt: ENOENT/);
  });

  it('the TLS key does not belong to the certificate', async () => {
    expectOneLineError(
      await startWith((config, dir) => {
        writeFileSync(join(dir, 'other.key'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
        config.tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'other.key') };
      }),
      /tls\.keyFile: .* does not fit /,
    );
  });

  it('a DKIM key file is missing', async () => {
    expectOneLineError(
      await startWith((config, dir) => (config.dkim = [{ domain: 'example.test', selector: 'mx1', keyFile: join(dir, 'dkim.key') }])),
      /dkim\[0\]\.keyFile: cannot read .*dkim\.key: ENOENT/,
    );
  });

  it('a DKIM key file is not a private key', async () => {
    expectOneLineError(
      await startWith((config, dir) => {
        writeFileSync(join(dir, 'dkim.key'), 'not a key');
        config.dkim = [{ domain: 'example.test', selector: 'mx1', keyFile: join(dir, 'dkim.key') }];
      }),
      /dkim\[0\]\.keyFile: .* is not a usable private key/,
    );
  });

  it('a published (not signing) DKIM key file is missing: every listed key must load, not only the first', async () => {
    expectOneLineError(
      await startWith((config, dir) => {
        writeFileSync(join(dir, 'dkim.key'), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
        config.dkim = [
          { domain: 'example.test', selector: 'mx2', keyFile: join(dir, 'dkim.key') },
          { domain: 'example.test', selector: 'mx1', keyFile: join(dir, 'old.key') },
        ];
      }),
      /dkim\[1\]\.keyFile: cannot read .*old\.key: ENOENT/,
    );
  });

  it('one DKIM selector of a domain is listed twice', async () => {
    expectOneLineError(
      await startWith((config, dir) => {
        config.dkim = [
          { domain: 'example.test', selector: 'mx1', keyFile: join(dir, 'a.key') },
          { domain: 'example.test', selector: 'MX1', keyFile: join(dir, 'b.key') },
        ];
      }),
      /dkim\[1\]\.selector: mx1\._domainkey\.example\.test is listed twice/,
    );
  });

  it('the shared SRS key file is missing or too short to be a key', async () => {
    expectOneLineError(
      await startWith((config, dir) => (config.forwarding = { srsSecretFile: join(dir, 'srs.key') })),
      /forwarding\.srsSecretFile: cannot read .*srs\.key: ENOENT/,
    );
    expectOneLineError(
      await startWith((config, dir) => {
        writeFileSync(join(dir, 'srs.key'), 'short');
        config.forwarding = { srsSecretFile: join(dir, 'srs.key') };
      }),
      /forwarding\.srsSecretFile: .*srs\.key holds 5 bytes; an SRS key needs at least 32/,
    );
  });

  it('a listener port is already taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      expectOneLineError(await startWith((config) => (config.listen.submission = { host: '127.0.0.1', port })), new RegExp(`listen\\.submission: 127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      blocker.close();
    }
  });

  it('a route points at a domain the relay does not serve', async () => {
    expectOneLineError(
      await startWith((config) => (config.routes = [{ match: 'postmaster@other.test', forward: ['a@b.test'] }])),
      /routes\[0\]\.match: domain other\.test is not in domains/,
    );
  });
});

describe('mxkit hash-password', () => {
  it('prints a scrypt hash that the relay accepts for that password and no other', async () => {
    const result = await run(process.execPath, [BUNDLE, 'hash-password'], 's3cret pass\n');
    expect(result.code).toBe(0);
    const hash = result.stdout.trim();
    expect(hash).toMatch(/^\$scrypt\$N=16384,r=8,p=1\$/);
    expect(await verifyPassword('s3cret pass', hash)).toBe(true);
    expect(await verifyPassword('s3cret pas', hash)).toBe(false);
  });

  it('refuses an empty password', async () => {
    const result = await run(process.execPath, [BUNDLE, 'hash-password'], '\n');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/no password on stdin/);
  });
});
