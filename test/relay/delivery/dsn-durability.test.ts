import { message, startDeliveryEnv, type DeliveryEnv } from './env';

describe('a DSN that could not be spooled at first', () => {
  let env: DeliveryEnv;
  afterEach(() => env.stop());

  it('is sent on the next attempt, not lost with the bounce that was already recorded', async () => {
    env = await startDeliveryEnv({ remote: { rcptReply: (address) => (address === 'nobody@elsewhere.test' ? 550 : undefined) } });
    const spool = env.relay.relay.spool;
    const enqueue = spool.enqueue.bind(spool);
    let failures = 0;
    // The disk refuses the first DSN (after the bounce itself is on record), then recovers.
    spool.enqueue = async (...args: Parameters<typeof enqueue>) => {
      if (failures++ === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      return enqueue(...args);
    };
    const id = await env.submit(message('refused once'), { from: 'app@example.test', to: ['nobody@elsewhere.test', 'someone@elsewhere.test'] });
    const dsnEvent = await env.waitForEvent('dsn', (event) => event.id === id);
    await env.waitForEvent('finished', (event) => event.id === dsnEvent.dsnId);
    expect(failures).toBe(2);
    expect(env.home.messages).toHaveLength(1);
    expect(env.home.messages[0].raw.toString('latin1')).toMatch(/^Final-Recipient: rfc822; nobody@elsewhere\.test$/m);
    // The recipient that was delivered the first time is not sent the message again.
    expect(env.remote.messages.map((mail) => mail.rcptTo)).toEqual([['someone@elsewhere.test']]);
    expect(env.events.filter((event) => event.name === 'dsn')).toHaveLength(1);
  });
});

describe('a message still undelivered after the delay-warning age', () => {
  let env: DeliveryEnv;
  afterEach(() => env.stop());

  it('earns exactly one "delayed" DSN while delivery goes on being retried', async () => {
    env = await startDeliveryEnv({
      remote: { dataReplies: Array.from({ length: 200 }, () => 451) },
      relayOptions: { delivery: { delayWarningMs: 300 } },
    });
    const id = await env.submit(message('slow'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    const dsnEvent = await env.waitForEvent('dsn', (event) => event.id === id && event.action === 'delayed');
    await env.waitForEvent('finished', (event) => event.id === dsnEvent.dsnId);
    // Later attempts keep failing, and none of them sends a second warning.
    const deferredSoFar = env.events.filter((event) => event.name === 'deferred' && event.payload.id === id).length;
    await env.waitForEvent('deferred', () => env.events.filter((event) => event.name === 'deferred' && event.payload.id === id).length >= deferredSoFar + 2);
    expect(env.events.filter((event) => event.name === 'dsn' && event.payload.id === id)).toHaveLength(1);
    const report = env.home.messages[0].raw.toString('latin1');
    expect(report).toMatch(/^Action: delayed$/m);
    expect(report).toMatch(/^Status: 4\.\d\.\d+$/m);
  });
});
