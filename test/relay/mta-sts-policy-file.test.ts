/**
 * mtaSts.policyFile: the policy a deployment of several hosts serves, listing every MX. Kept current
 * outside the relay config (a host added or removed changes it, no host's config), so the relay
 * re-reads it when it changes and never serves a broken one.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { mtaStsPolicy } from '../../infra/builders/records';
import { BUNDLE } from '../helpers/child-relay';
import { HOSTNAME, startTestRelay, writeRelayFiles, type TestRelay } from '../helpers/relay';
import { run } from '../helpers/run';

const MTA_STS_HOST = 'mta-sts.example.test';
const ONE_HOST = mtaStsPolicy('enforce', [HOSTNAME], '7d');
const TWO_HOSTS = mtaStsPolicy('enforce', [HOSTNAME, 'mail2.example.test'], '7d');

/** What a sender fetching the policy gets (the certificate is not what is under test here). */
function fetchPolicy(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/.well-known/mta-sts.txt', headers: { host: MTA_STS_HOST }, servername: MTA_STS_HOST, rejectUnauthorized: false, agent: false },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Replaces the file the way the host's refresh does: a new file renamed over the old one. */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

describe('a relay serving mtaSts.policyFile', () => {
  let relay: TestRelay;
  let policyFile: string;

  beforeAll(async () => {
    relay = await startTestRelay((config, dir) => {
      policyFile = join(dir, 'mta-sts.txt');
      writeFileSync(policyFile, ONE_HOST);
      config.listen.https = { host: '127.0.0.1', port: 0 };
      config.mtaSts = { mode: 'enforce', maxAge: '7d', policyFile };
    });
  });

  afterAll(async () => {
    await relay?.stop();
  });

  const port = () => relay.relay.addresses.https?.port ?? 0;

  it('serves the file as it is', async () => {
    expect(await fetchPolicy(port())).toEqual({ status: 200, body: ONE_HOST });
  });

  it('serves the new list of MX hosts as soon as the file changes, without a restart', async () => {
    replace(policyFile, TWO_HOSTS);
    expect(await fetchPolicy(port())).toEqual({ status: 200, body: TWO_HOSTS });
  });

  it('serves the policy with CRLF line ends and nothing after the last, however the file ends its lines', async () => {
    replace(policyFile, `${TWO_HOSTS.replace(/\r\n/g, '\n')}\n`);
    expect(await fetchPolicy(port())).toEqual({ status: 200, body: TWO_HOSTS });
  });

  it('keeps serving the last good policy when the file is changed into something that is not one, and says so', async () => {
    replace(policyFile, TWO_HOSTS);
    await fetchPolicy(port());
    replace(policyFile, 'version: STSv1\r\nmode: enforce\r\n');
    expect(await fetchPolicy(port())).toEqual({ status: 200, body: TWO_HOSTS });
    await relay.waitForLog(/cannot reload the MTA-STS policy; still serving the previous one/);
    replace(policyFile, 'x'.repeat(70 * 1024));
    expect(await fetchPolicy(port())).toEqual({ status: 200, body: TWO_HOSTS });
    replace(policyFile, ONE_HOST);
    expect(await fetchPolicy(port())).toEqual({ status: 200, body: ONE_HOST });
  });
});

describe('the relay refuses to start, naming mtaSts.policyFile, when the policy file', () => {
  const startWith = async (contents: string | undefined) => {
    const files = await writeRelayFiles((config, dir) => {
      const policyFile = join(dir, 'mta-sts.txt');
      if (contents !== undefined) writeFileSync(policyFile, contents);
      config.listen.https = { host: '127.0.0.1', port: 0 };
      config.mtaSts = { mode: 'enforce', maxAge: '7d', policyFile };
    });
    return run(process.execPath, [BUNDLE, 'relay', '--config', files.configPath]);
  };

  it('is missing', async () => {
    const result = await startWith(undefined);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toMatch(/^mxkit: config error: mtaSts\.policyFile: cannot read .*mta-sts\.txt: ENOENT$/);
  });

  it('is not an RFC 8461 policy', async () => {
    const result = await startWith('version: STSv1\r\nmode: sometimes\r\nmx: mail.example.test\r\nmax_age: 86400\r\n');
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toMatch(/mtaSts\.policyFile: .* is not an MTA-STS policy .*mode/i);
  });
});
