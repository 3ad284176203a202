/**
 * Intake first in the running relay (delivery.ts): messages taken in count towards a burst, the
 * scheduler asks before each delivery, and /metrics shows the hold. The burst's size and the main
 * thread's load are the test's own (the `intakeFirst` hook), so no core has to be saturated.
 */
import { metricValue } from '../../helpers/metrics';
import { message, startDeliveryEnv, type DeliveryEnv } from './env';

describe('intake first in the running relay', () => {
  let env: DeliveryEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('holds new deliveries while a burst keeps the relay busy, shows it in /metrics, and delivers every message once the burst is over', async () => {
    let busy = true;
    const load = { utilisation: () => (busy ? 0.9 : 0.1), nextSampleAt: () => Date.now() + 20 };
    env = await startDeliveryEnv({ relayOptions: { delivery: { intakeFirst: { burstArrivals: 2, load } } } });
    const submit = (subject: string) => env?.submit(message(subject), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    expect(await metricValue(env.relay.relay.metrics, 'mxkit_delivery_held')).toBe(0);

    // One message is no burst: it goes out at once. The second within a second makes one (the
    // hook's threshold is 2): it and the third wait.
    await submit('first');
    await submit('second');
    expect(await metricValue(env.relay.relay.metrics, 'mxkit_delivery_held')).toBe(1);
    await submit('third');
    expect(await metricValue(env.relay.relay.metrics, 'mxkit_delivery_held')).toBe(1);
    expect(env.remote.messages.length).toBeLessThanOrEqual(1);

    busy = false;
    const delivered = await env.remote.waitForMessages(3);
    expect(delivered.map((mail) => /^Subject: (.*)$/m.exec(mail.raw.toString('latin1'))?.[1]).sort()).toEqual(['first', 'second', 'third']);
    expect(await metricValue(env.relay.relay.metrics, 'mxkit_delivery_held')).toBe(0);
    expect(await metricValue(env.relay.relay.metrics, 'mxkit_delivery_held_seconds_total')).toBeGreaterThan(0);
  });
});
