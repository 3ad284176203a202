import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { message, startDeliveryEnv, type DeliveryEnv } from '../delivery/env';

interface Hook {
  url: string;
  bodies: unknown[];
  /** Requests answered (including refused ones). */
  requests: number;
  waitFor(predicate: (body: unknown) => boolean): Promise<unknown>;
  close(): Promise<void>;
}

/** A local webhook receiver (what Alertmanager or a chat service is to a deployment); the first `failFirst` requests get 500. */
async function startHook(failFirst = 0): Promise<Hook> {
  const bodies: unknown[] = [];
  const waiters: Array<{ predicate: (body: unknown) => boolean; resolve: (body: unknown) => void }> = [];
  let requests = 0;
  const server: Server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      requests++;
      if (requests <= failFirst) return response.writeHead(500).end('try again');
      const body: unknown = JSON.parse(text);
      bodies.push(body);
      response.writeHead(200).end('ok');
      for (const waiter of [...waiters]) {
        if (waiter.predicate(body)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(body);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/T0SECRET/B0TOKEN`,
    bodies,
    get requests() {
      return requests;
    },
    waitFor: (predicate) =>
      new Promise((resolve) => {
        const seen = bodies.find(predicate);
        if (seen) return resolve(seen);
        waiters.push({ predicate, resolve });
      }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface JsonAlert {
  text: string;
  event: string;
  severity: string;
  subject: string;
  host: string;
  details: Record<string, unknown>;
}

const event = (name: string) => (body: unknown) => (body as JsonAlert).event === name;

describe('alerts.webhook', () => {
  let env: DeliveryEnv | undefined;
  let hook: Hook | undefined;
  afterEach(async () => {
    await env?.stop();
    await hook?.close();
    env = undefined;
    hook = undefined;
  });

  it('posts cool-off and blocklisted events from the throttle, retrying a webhook that fails, and never logs its URL', async () => {
    hook = await startHook(1);
    let transactions = 0;
    env = await startDeliveryEnv({
      remote: {
        judge: () => {
          transactions++;
          if (transactions === 1) return { code: 421, text: '4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred due to unexpected volume or user complaints' };
          if (transactions === 2) return { code: 554, text: '5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org' };
          return undefined;
        },
      },
      configure: (config) => {
        config.alerts = { webhook: hook!.url };
        config.delivery = { ...config.delivery, throttle: { rules: [{ match: '[TSS04]', coolOff: '200ms' }, { match: 'spamhaus', coolOff: '200ms', event: 'blocklisted' }], maxWait: '1s' } };
      },
      relayOptions: { deliverability: { alertRetryDelaysMs: [50, 50, 50] } },
    });
    await env.submit(message('first'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    const coolOff = (await hook.waitFor(event('cool-off'))) as JsonAlert;
    expect(coolOff).toMatchObject({ severity: 'warning', subject: 'domain:elsewhere.test', host: 'mail.example.test', details: { group: 'default', rule: '[TSS04]' } });
    expect(coolOff.text).toMatch(/^mxkit mail\.example\.test: elsewhere\.test is throttling us \(\[TSS04\]\); sending to it paused until \d{4}-/);
    expect(hook.requests).toBeGreaterThanOrEqual(2); // the first POST got a 500 and was retried
    const blocklisted = (await hook.waitFor(event('blocklisted'))) as JsonAlert;
    expect(blocklisted).toMatchObject({ severity: 'critical', details: { reply: expect.stringContaining('blocked using zen.spamhaus.org') } });
    expect(env.relay.logs.join('\n')).not.toContain('T0SECRET');
    expect(await env.relay.relay.metrics.registry.getSingleMetricAsString('mxkit_alerts_total')).toMatch(/\{event="cool-off",result="sent"\} 1/);
  });

  it('posts queue-stuck and certificate-expiry as Alertmanager alerts, once per repeat interval', async () => {
    hook = await startHook();
    env = await startDeliveryEnv({
      remote: { dataReplies: Array.from({ length: 20 }, () => 451) },
      configure: (config) => {
        // The test certificate is valid for a year: inside a ten-year warning window.
        config.alerts = { webhook: hook!.url, format: 'alertmanager', queueStuckAfter: '1s', certificateWarning: '3650d', repeatInterval: '1h' };
        config.delivery = { ...config.delivery, retrySchedule: ['1h'] };
      },
      relayOptions: { deliverability: { alertCheckMs: 100 } },
    });
    await env.submit(message('stuck'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    type AlertmanagerBody = Array<{ labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string }>;
    const labelled = (name: string) => (body: unknown) => Array.isArray(body) && (body as AlertmanagerBody)[0]?.labels.alertname === name;
    const [stuck] = (await hook.waitFor(labelled('MxkitQueueStuck'))) as AlertmanagerBody;
    expect(stuck.labels).toEqual({ alertname: 'MxkitQueueStuck', severity: 'warning', instance: 'mail.example.test', event: 'queue-stuck', subject: 'queue' });
    expect(stuck.annotations.summary).toMatch(/the oldest queued message has waited \d+ minutes/);
    expect(Date.parse(stuck.endsAt)).toBeGreaterThan(Date.parse(stuck.startsAt));
    const [certificate] = (await hook.waitFor(labelled('MxkitCertificateExpiry'))) as AlertmanagerBody;
    expect(certificate.annotations.summary).toMatch(/the TLS certificate \(file\) expires in \d+ days/);
    // Checked every 100 ms, sent once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(hook.bodies.filter(labelled('MxkitQueueStuck'))).toHaveLength(1);
    const metric = await env.relay.relay.metrics.registry.getSingleMetricAsString('mxkit_queue_oldest_message_age_seconds');
    expect(metric).toMatch(/mxkit_queue_oldest_message_age_seconds [1-9]/);
  });

  it('posts port-25-shut when the outbound port-25 probe cannot connect', async () => {
    hook = await startHook();
    env = await startDeliveryEnv({
      configure: (config) => {
        config.alerts = { webhook: hook!.url };
        // A loopback address where nothing listens: refused, as a blocked port 25 would be.
        config.delivery = { ...config.delivery, port25Probe: { host: '127.0.0.9', port: 25, interval: '1h' } };
      },
      relayOptions: { delivery: { port25TimeoutMs: 1000 } },
    });
    const shut = (await hook.waitFor((body) => event('port-25-shut')(body) && (body as JsonAlert).subject === 'probe')) as JsonAlert;
    expect(shut).toMatchObject({ severity: 'critical', details: { probe: '127.0.0.9:25' } });
    expect(shut.text).toMatch(/the outbound port-25 probe cannot connect to 127\.0\.0\.9:25/);
  });

  it('posts port-25-shut when the MX of several domains in a row cannot be reached', async () => {
    hook = await startHook();
    env = await startDeliveryEnv({
      configure: (config) => {
        config.alerts = { webhook: hook!.url };
        config.delivery = { ...config.delivery, retrySchedule: ['1h'] };
      },
    });
    // Three domains whose MX is a loopback address where nothing listens: connection refused, as
    // when a cloud provider drops outbound port 25.
    for (const name of ['one', 'two', 'three']) {
      env.dns.set(`${name}.test`, { MX: [{ exchange: `mx.${name}.test`, priority: 10 }] });
      env.dns.set(`mx.${name}.test`, { A: ['127.0.0.9'] });
    }
    for (const name of ['one', 'two', 'three']) await env.submit(message(name, 'app@example.test', `someone@${name}.test`), { from: 'app@example.test', to: [`someone@${name}.test`] });
    const shut = (await hook.waitFor(event('port-25-shut'))) as JsonAlert;
    expect(shut).toMatchObject({ severity: 'critical', subject: 'delivery' });
    expect(shut.text).toMatch(/outbound port 25 looks blocked/);
    expect(String(shut.details.domains).split(', ').sort()).toEqual(['one.test', 'three.test', 'two.test']);
  });
});
