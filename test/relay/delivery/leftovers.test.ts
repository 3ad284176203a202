/**
 * The three leftovers of the last round (issue 13 point 6): a failed state write no longer ends an
 * attempt while its other destination groups still deliver; a draining relay closes a session as
 * soon as its transaction ends instead of waiting the drain timeout; a hostile MX cannot make the
 * relay connect to loopback or private addresses.
 */
import { isPublicAddress } from '../../../relay/src/delivery/public-address';
import { startTestRelay } from '../../helpers/relay';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { message, startDeliveryEnv, type DeliveryEnv } from './env';

describe('addresses delivery may connect to', () => {
  it.each([
    ['192.0.2.1', false],
    ['127.0.0.2', false],
    ['10.1.2.3', false],
    ['172.20.0.1', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['::1', false],
    ['::ffff:127.0.0.1', false],
    ['fd00::1', false],
    ['fe80::1', false],
    ['2001:db8::1', false],
    ['93.184.216.34', true],
    ['2606:2800:220:1:248:1893:25c8:1946', true],
    ['::ffff:93.184.216.34', true],
  ])('%s is public: %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('delivery without delivery.allowPrivateAddresses', () => {
  let env: DeliveryEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('never connects to what a hostile MX points at (loopback, private, metadata), and says why', async () => {
    env = await startDeliveryEnv({ configure: (config) => (config.delivery = { ...config.delivery, allowPrivateAddresses: false }) });
    // The hostile domain's MX resolves to our own receiving MTA on loopback, among others.
    env.dns.set('hostile.test', { MX: [{ exchange: 'mx.hostile.test', priority: 10 }] });
    env.dns.set('mx.hostile.test', { A: ['127.0.0.2', '10.0.0.7', '169.254.169.254'] });
    const id = await env.submit(message('to a hostile MX', 'app@example.test', 'victim@hostile.test'), { from: 'app@example.test', to: ['victim@hostile.test'] });
    const deferred = await env.waitForEvent('deferred', (event) => event.id === id);
    expect(deferred.reason).toBe('dns');
    expect(String(deferred.detail)).toMatch(/not public/);
    expect(env.remote.transactions).toBe(0);
    expect(env.relay.logs.join('\n')).toMatch(/MX resolves to addresses that are not public/);
  });
});

describe('a state write that fails in the middle of an attempt', () => {
  let env: DeliveryEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('ends the attempt only once every destination group has finished', async () => {
    let releaseSlowGroup: () => void = () => undefined;
    const slowGroupHeld = new Promise<void>((resolve) => (releaseSlowGroup = resolve));
    // Two destination groups: elsewhere.test (the remote MTA, fast) and slow.test (the home MTA,
    // which holds its reply until the first state write has failed).
    env = await startDeliveryEnv({ home: { beforeDataReply: () => slowGroupHeld } });
    env.dns.set('slow.test', { MX: [{ exchange: 'mx.example.test', priority: 10 }] });
    const sequence: string[] = [];
    const state = env.relay.relay.spool.state;
    const write = state.write.bind(state);
    let failed = false;
    state.write = async (...args: Parameters<typeof write>) => {
      if (!failed) {
        failed = true;
        sequence.push('state write failed');
        releaseSlowGroup();
        throw Object.assign(new Error('disk on fire'), { code: 'EIO' });
      }
      return write(...args);
    };
    env.relay.relay.delivery.events.on('delivered', (event: { to: string }) => sequence.push(`delivered ${event.to}`));
    void env.relay.waitForLog(/delivery attempt failed unexpectedly/).then(() => sequence.push('attempt failed'));
    await env.submit(message('two groups'), { from: 'app@example.test', to: ['someone@elsewhere.test', 'someone@slow.test'] });
    await env.relay.waitForLog(/delivery attempt failed unexpectedly/);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sequence.slice(0, 4)).toEqual(['delivered someone@elsewhere.test', 'state write failed', 'delivered someone@slow.test', 'attempt failed']);
  });
});

describe('a draining relay', () => {
  it('closes a session right after its transaction ends instead of waiting the drain timeout', async () => {
    const t = await startTestRelay();
    const dialog = await SmtpDialog.open(t.port('mx'));
    await dialog.greet();
    await dialog.command('MAIL FROM:<a@outside.test>');
    await dialog.command('RCPT TO:<postmaster@example.test>');
    expect((await dialog.command('DATA')).code).toBe(354);
    const stopping = t.stop(); // drain timeout: the default 60 s
    await t.waitForLog(/shutting down/);
    dialog.write('Subject: last one\r\n\r\nin flight when the drain began\r\n.\r\n');
    expect((await dialog.read()).lines[0]).toMatch(/^250 /);
    expect((await dialog.read()).lines[0]).toMatch(/^421 4\.3\.2 /);
    const started = Date.now();
    await stopping;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await t.relay.spool.count()).toBe(1);
  });
});
