/**
 * The relay knows when outbound port 25 is shut: with direct delivery it probes a target (here a
 * loopback listener standing in for a large provider's MX), exports mxkit_outbound_port25_open,
 * logs the remedy once per change, keeps /readyz at 200, and `mxkit check` on the host reports it.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { checkOutbound } from '../../relay/src/check/outbound-check';
import type { Port25Probe, ProbeState } from '../../relay/src/delivery/port25-probe';
import { BUNDLE } from '../helpers/child-relay';
import { startTestRelay, type TestRelay } from '../helpers/relay';
import { run } from '../helpers/run';
import { getLocal } from '../helpers/http';

function waitForState(probe: Port25Probe, state: ProbeState): Promise<void> {
  if (probe.current === state) return Promise.resolve();
  return new Promise((resolve) => {
    const onChange = (next: ProbeState) => {
      if (next !== state) return;
      probe.events.off('change', onChange);
      resolve();
    };
    probe.events.on('change', onChange);
  });
}

/** The relay's ops listener, as a monitoring system reads it. */
const get = (relay: TestRelay, path: string) => getLocal(relay.port('http'), path);

describe('the outbound port-25 probe', () => {
  let target: Server;
  let relay: TestRelay | undefined;

  beforeAll(async () => {
    target = createServer((socket) => socket.destroy());
    target.listen(0, '127.0.0.2');
    await once(target, 'listening');
  });
  afterAll(async () => {
    await relay?.stop();
    if (target.listening) await new Promise((resolve) => target.close(resolve));
  });

  it('reports 1 while the target listens, flips to 0 when it stops, logs the remedy once, and stays ready', async () => {
    const port = (target.address() as AddressInfo).port;
    relay = await startTestRelay((config) => {
      config.delivery = { ...config.delivery, port25Probe: { host: '127.0.0.2', port, interval: '100ms' } };
    });
    const probe = relay.relay.delivery.port25 as Port25Probe;
    await waitForState(probe, 'open');
    expect((await get(relay, '/metrics')).body).toMatch(new RegExp(`^mxkit_outbound_port25_open\\{target="127\\.0\\.0\\.2:${port}"\\} 1$`, 'm'));
    expect((await get(relay, '/metrics')).body).toMatch(/^mxkit_outbound_smarthost 0$/m);
    const url = `http://127.0.0.1:${relay.port('http')}/metrics`;
    expect(await checkOutbound({ url, required: true }, 2000)).toEqual([expect.objectContaining({ id: 'service.outbound-port-25', status: 'pass' })]);

    await new Promise((resolve) => target.close(resolve));
    await waitForState(probe, 'closed');
    expect((await get(relay, '/metrics')).body).toMatch(new RegExp(`^mxkit_outbound_port25_open\\{target="127\\.0\\.0\\.2:${port}"\\} 0$`, 'm'));
    // Intake still works: readiness does not depend on outbound port 25.
    const readyz = await get(relay, '/readyz');
    expect([readyz.status, readyz.body]).toEqual([200, 'ready\n']);

    // Several more probes find it closed; the remedy was logged once, at the change.
    for (let probes = 0; probes < 3; probes++) await once(probe.events, 'probed');
    const remedies = relay.logs.filter((line) => line.includes('outbound port 25 is blocked'));
    expect(remedies).toHaveLength(1);
    expect(remedies[0]).toContain('pulumi config set mxkit:outbound ses');
    expect(relay.logs.filter((line) => line.includes('outbound port 25 is open'))).toHaveLength(1);

    // `mxkit check` run on the host reads the relay's verdict and says what to do.
    const check = await run(process.execPath, [BUNDLE, 'check', '--domain', 'example.test', '--dns-server', '127.0.0.1:9', '--timeout', '500', '--dnsbl', 'none', '--closed-ports', 'none', '--relay-metrics', url]);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^FAIL service\.outbound-port-25 +outbound port 25 is blocked: the relay's probe to 127\.0\.0\.2:\d+ could not connect, so direct delivery only defers — fix: ask AWS to lift the port-25 block .*pulumi config set mxkit:outbound ses/m);
  });

  it('does not probe when delivery goes through a smarthost, and says so to `mxkit check`', async () => {
    const smarthosted = await startTestRelay((config) => {
      config.delivery = { ...config.delivery, smarthost: { host: '127.0.0.2', port: 2525 } };
    });
    try {
      expect(smarthosted.relay.delivery.port25).toBeUndefined();
      const url = `http://127.0.0.1:${smarthosted.port('http')}/metrics`;
      expect(await checkOutbound({ url, required: true }, 2000)).toEqual([
        expect.objectContaining({ id: 'service.outbound-port-25', status: 'pass', summary: expect.stringMatching(/smarthost/) }),
      ]);
      expect((await get(smarthosted, '/metrics')).body).not.toMatch(/^mxkit_outbound_port25_open\{/m);
    } finally {
      await smarthosted.stop();
    }
  });

  it('leaves the check out when run away from the host (the default endpoint is not there), and warns when the endpoint was named', async () => {
    const closed = 'http://127.0.0.1:9/metrics';
    expect(await checkOutbound({ url: closed, required: false }, 2000)).toEqual([]);
    expect(await checkOutbound({ url: closed, required: true }, 2000)).toEqual([expect.objectContaining({ status: 'warn', summary: expect.stringMatching(/cannot read the relay's metrics/) })]);
  });
});
