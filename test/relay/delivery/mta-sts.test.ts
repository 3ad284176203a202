import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { makeCertificate, type TestCertificate } from '../../helpers/tls';
import { makeCertificate as makeMxCertificate } from '../../helpers/tls';
import { message, startDeliveryEnv, type DeliveryEnv } from './env';

/** A loopback HTTPS server playing https://mta-sts.elsewhere.test/.well-known/mta-sts.txt. */
async function startPolicyServer(policy: string): Promise<{ server: Server; port: number; certificate: TestCertificate; fetches: () => number }> {
  const certificate = await makeCertificate('mta-sts.elsewhere.test');
  let fetches = 0;
  const server = createServer({ key: certificate.key, cert: certificate.cert }, (request, response) => {
    fetches++;
    if (request.url !== '/.well-known/mta-sts.txt' || request.headers.host !== 'mta-sts.elsewhere.test') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'text/plain' }).end(policy);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, certificate, fetches: () => fetches };
}

const policy = (mx: string) => `version: STSv1\nmode: enforce\nmx: ${mx}\nmax_age: 86400\n`;

describe('MTA-STS (RFC 8461)', () => {
  let env: DeliveryEnv | undefined;
  let policyServer: Awaited<ReturnType<typeof startPolicyServer>> | undefined;
  afterEach(async () => {
    await env?.stop();
    await new Promise<void>((resolve) => (policyServer ? policyServer.server.close(() => resolve()) : resolve()));
    env = undefined;
    policyServer = undefined;
  });

  async function start(mxInPolicy: string, trustReceiver: boolean) {
    policyServer = await startPolicyServer(policy(mxInPolicy));
    const server = policyServer;
    const mxCertificate = await makeMxCertificate('mx.elsewhere.test');
    env = await startDeliveryEnv({
      remote: { certificate: mxCertificate },
      relayOptions: {
        delivery: {
          mtaSts: { url: () => `https://127.0.0.1:${server.port}/.well-known/mta-sts.txt`, ca: [server.certificate.cert] },
          ...(trustReceiver ? { tlsCa: [mxCertificate.cert] } : {}),
        },
      },
    });
    env.dns.set('_mta-sts.elsewhere.test', { TXT: ['v=STSv1; id=20240101'] });
    return env;
  }

  it('defers, and never delivers in clear, when enforce lists no MX the domain publishes', async () => {
    const current = await start('mx.other.test', true);
    const id = await current.submit(message('sts mismatch'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    const deferred = await current.waitForEvent('deferred', (event) => event.id === id);
    expect(deferred.reason).toBe('mta_sts');
    expect(current.remote.transactions).toBe(0);
    expect(current.remote.messages).toHaveLength(0);
    expect(policyServer?.fetches()).toBe(1);
  });

  it('defers when the policy matches but the MX certificate does not verify (no cleartext fallback under enforce)', async () => {
    const current = await start('mx.elsewhere.test', false);
    const id = await current.submit(message('sts bad cert'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    const deferred = await current.waitForEvent('deferred', (event) => event.id === id);
    expect(deferred.reason).toBe('tls');
    expect(current.remote.transactions).toBe(0);
  });

  it('delivers over verified TLS when the MX matches the policy and its certificate verifies', async () => {
    const current = await start('*.elsewhere.test', true);
    const id = await current.submit(message('sts ok'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    await current.waitForEvent('finished', (event) => event.id === id);
    expect(current.remote.messages).toHaveLength(1);
    expect(current.remote.messages[0].secure).toBe(true);
  });
});
