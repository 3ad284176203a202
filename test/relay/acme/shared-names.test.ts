/**
 * Several hosts share names (the submission name and mta-sts.<domain> point at every host), and a
 * CA validates HTTP-01 at whichever address it picks. Here every name resolves to the first relay's
 * listen.acmeHttp, where pebble validates; the second relay, sharing the ACME account but listening
 * elsewhere, still gets its certificate, because the first answers tokens it never saw.
 */
import { join } from 'node:path';
import { HOSTNAME, startTestRelay, type TestRelay } from '../../helpers/relay';
import { createAcmeWorld, logLine, startAcmeRelay, startTlsCertificate, useAcme, type AcmeWorld } from './world';

let world: AcmeWorld;
let root: string;
const relays: TestRelay[] = [];

beforeAll(async () => {
  world = await createAcmeWorld({ pebbleRunning: true });
  root = await world.pebble!.rootCertificate();
});

afterEach(async () => {
  for (const relay of relays.splice(0)) await relay.stop();
});

afterAll(async () => {
  await world?.stop();
});

/** A relay whose own HTTP-01 listener the CA never reaches (port 0: not the one pebble validates on). */
function unreachableRelay(accountKeyFile: string, stateDir: string): Promise<TestRelay> {
  const acme = useAcme(world, { stateDir, acme: { accountKeyFile } });
  return startTestRelay(
    (config) => {
      acme(config);
      config.listen.acmeHttp = { host: '127.0.0.1', port: 0 };
    },
    { authFailureDelayMs: 50, tls: { pollMs: 50 } },
  );
}

describe('two hosts sharing an ACME account', () => {
  it('the host the CA does not reach gets its certificate: the host it does reach answers the challenge for it', async () => {
    relays.push(await startAcmeRelay(world, { stateDir: join(world.dir, 'first') }));
    await logLine(relays[0], /TLS certificate obtained/);
    const second = await unreachableRelay(world.accountKeyFile, join(world.dir, 'second'));
    relays.push(second);
    const obtained = await logLine(second, /TLS certificate obtained/);
    const served = await startTlsCertificate(second.port('mx'), HOSTNAME, root);
    expect(served.serialNumber).toBe(String(obtained.serial));
  });

});
