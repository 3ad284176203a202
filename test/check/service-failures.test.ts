import { createServer, type AddressInfo, type Server } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { runChecks } from '../../relay/src/check/run-checks';
import type { CheckReport } from '../../relay/src/check/types';
import { HOSTNAME } from '../helpers/relay';
import { expiredDaysAgo, goodZone, makeCertificate, startWorld, validFor, IP, type World } from './world';

const problems = (report: CheckReport) => report.checks.filter((c) => c.status !== 'pass').map((c) => [c.id, c.status]);
const find = (report: CheckReport, id: string) => {
  const check = report.checks.find((c) => c.id === id);
  if (!check) throw new Error(`no check ${id}`);
  return check;
};

async function listen<T extends { listen(port: number, host: string, callback: () => void): unknown }>(server: T): Promise<T> {
  await new Promise<void>((resolve) => server.listen(0, IP, resolve));
  return server;
}

describe('mxkit check service failures', () => {
  test('an expired certificate fails the certificate and expiry checks with the renewal fix', async () => {
    const world = await startWorld(expiredDaysAgo(3));
    try {
      const report = await runChecks(world.options(await world.dns(goodZone())));
      expect(problems(report)).toEqual([
        // The MTA-STS policy host serves the same (expired) certificate in this world.
        ['dns.mta-sts-policy', 'fail'],
        ['service.tls-certificate.127.0.0.1', 'fail'],
        ['service.tls-expiry.127.0.0.1', 'fail'],
        ['service.submissions.127.0.0.1', 'fail'],
      ]);
      expect(find(report, 'service.tls-certificate.127.0.0.1').summary).toMatch(/^certificate on 127\.0\.0\.1:\d+ expired on /);
      expect(find(report, 'service.tls-expiry.127.0.0.1')).toMatchObject({
        summary: expect.stringMatching(/expired 3 days ago/),
        fix: 'renew the certificate for mail.example.test; the relay renews ACME certificates 30 days ahead, so check its log for ACME errors',
      });
      expect(report.ok).toBe(false);
    } finally {
      await world.stop();
    }
  });

  test('a certificate expiring within 14 days warns but does not fail the run', async () => {
    const world = await startWorld(validFor(5));
    try {
      const report = await runChecks(world.options(await world.dns(goodZone())));
      expect(problems(report)).toEqual([['service.tls-expiry.127.0.0.1', 'warn']]);
      expect(find(report, 'service.tls-expiry.127.0.0.1').summary).toMatch(/expires in [45] days/);
      expect(report.ok).toBe(true);
    } finally {
      await world.stop();
    }
  });

  describe('with the real relay running', () => {
    let world: World;
    beforeAll(async () => {
      world = await startWorld();
    });
    afterAll(() => world.stop());

    test('an open relay stand-in (accepts any RCPT) is reported as an open relay with the fix', async () => {
      const certificate = await makeCertificate([HOSTNAME], validFor(365), 'open relay stand-in');
      const standIn = await listen(
        new SMTPServer({
          key: certificate.key,
          cert: certificate.cert,
          authOptional: true,
          disableReverseLookup: true,
          logger: false,
          onData(stream, _session, callback) {
            stream.resume();
            stream.on('end', () => callback());
          },
        }),
      );
      try {
        const options = world.options(await world.dns(goodZone()), { ca: `${world.ca}\n${certificate.cert}` });
        const port = (standIn.server.address() as AddressInfo).port;
        const report = await runChecks({ ...options, ports: { ...options.ports, smtp: port } });
        expect(problems(report)).toEqual([['service.open-relay.127.0.0.1', 'fail']]);
        expect(find(report, 'service.open-relay.127.0.0.1')).toMatchObject({
          summary: `127.0.0.1:${port} is an OPEN RELAY: it accepted mail from <mxkit-check@open-relay-test.invalid> to <someone@elsewhere.test> without authentication`,
          fix: 'accept unauthenticated mail only for your own domains (the mxkit relay does: check what listens on port 25 and its trustedNetworks)',
        });
      } finally {
        await new Promise<void>((resolve) => standIn.close(() => resolve()));
      }
    });

    test('the real relay refuses the open-relay self-test', async () => {
      const report = await runChecks(world.options(await world.dns(goodZone())));
      expect(find(report, 'service.open-relay.127.0.0.1')).toMatchObject({ status: 'pass', summary: expect.stringMatching(/refuses to relay to <someone@elsewhere\.test> \(55\d, 55\d\)/) });
    });

    test('a certificate for another name fails the certificate check', async () => {
      const other = await makeCertificate(['other.example.test'], validFor(365));
      const standIn = await listen(new SMTPServer({ key: other.key, cert: other.cert, disableReverseLookup: true, logger: false, authOptional: true, onRcptTo: (_a, _s, callback) => callback(new Error('no relaying')) }));
      try {
        const options = world.options(await world.dns(goodZone()), { ca: `${world.ca}\n${other.cert}` });
        const report = await runChecks({ ...options, ports: { ...options.ports, smtp: (standIn.server.address() as AddressInfo).port } });
        expect(problems(report)).toEqual([['service.tls-certificate.127.0.0.1', 'fail']]);
        expect(find(report, 'service.tls-certificate.127.0.0.1').summary).toMatch(/is for other\.example\.test, not mail\.example\.test$/);
      } finally {
        await new Promise<void>((resolve) => standIn.close(() => resolve()));
      }
    });

    test('a listening port that should be closed (SSH-like) is flagged', async () => {
      const ssh: Server = await listen(createServer((socket) => {
          // The check hangs up as soon as it is connected; a reset is expected.
          socket.on('error', () => undefined);
          socket.end('SSH-2.0-OpenSSH_9.2\r\n');
        }));
      try {
        const port = (ssh.address() as AddressInfo).port;
        const report = await runChecks(world.options(await world.dns(goodZone()), { closedPorts: [port] }));
        expect(problems(report)).toEqual([[`service.closed-port-${port}.127.0.0.1`, 'fail']]);
        expect(find(report, `service.closed-port-${port}.127.0.0.1`).fix).toBe(`close port ${port} in the host's security group`);
      } finally {
        await new Promise<void>((resolve) => ssh.close(() => resolve()));
      }
    });

    test('an SMTP port nothing listens on fails as unreachable', async () => {
      const options = world.options(await world.dns(goodZone()));
      const report = await runChecks({ ...options, ports: { ...options.ports, submission: world.closedPort } });
      expect(find(report, 'service.submission.127.0.0.1')).toMatchObject({ status: 'fail', summary: `port ${world.closedPort} on 127.0.0.1: ECONNREFUSED` });
    });
  });
});
