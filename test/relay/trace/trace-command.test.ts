import { getLocal as get } from '../../helpers/http';
import { BUNDLE } from '../../helpers/child-relay';
import { run } from '../../helpers/run';
import { message, startDeliveryEnv, type DeliveryEnv } from '../delivery/env';

const trace = (env: DeliveryEnv, ...args: string[]) => run(process.execPath, [BUNDLE, 'trace', ...args, '--config', env.relay.configPath]);

interface JsonTrace {
  id: string;
  entries: Array<Record<string, unknown>>;
  endings: string[];
}

describe('mxkit trace', () => {
  let env: DeliveryEnv;
  let retried: string;
  let bounced: string;
  let dsnId: string;
  beforeAll(async () => {
    env = await startDeliveryEnv({ remote: { dataReplies: [451], rcptReply: (address) => (address === 'nobody@elsewhere.test' ? 550 : undefined) } });
    retried = await env.submit(message('retried'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    await env.waitForEvent('finished', (event) => event.id === retried);
    bounced = await env.submit(message('bounced', 'app@example.test', 'nobody@elsewhere.test'), { from: 'app@example.test', to: ['nobody@elsewhere.test'] });
    dsnId = (await env.waitForEvent('dsn', (event) => event.id === bounced)).dsnId as string;
    await env.waitForEvent('finished', (event) => event.id === dsnId);
  });
  afterAll(() => env.stop());

  it('shows every attempt of a message with its time, MX host and address, TLS and the remote reply, and how it ended', async () => {
    const result = await trace(env, retried);
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`message ${retried}`);
    expect(result.stdout).toMatch(/^ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?Z {2}received from <app@example\.test> \(user app, submissions, 127\.0\.0\.1\) for <someone@elsewhere\.test>$/m);
    expect(result.stdout).toMatch(/deferred <someone@elsewhere\.test> \(4\.3\.0\) via mx\.elsewhere\.test \[127\.0\.0\.2\], TLS: 451 4\.3\.0 Try again later$/m);
    expect(result.stdout).toMatch(/next attempt at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    expect(result.stdout).toMatch(/delivered <someone@elsewhere\.test> via mx\.elsewhere\.test \[127\.0\.0\.2\], TLS: 250 Ok: delivered$/m);
    expect(result.stdout).toMatch(/finished: removed from the queue/);
    expect(result.stdout).toMatch(/how it ended:\n {4}<someone@elsewhere\.test>: delivered to mx\.elsewhere\.test at /);
    // Chronological: received, deferred, retry, delivered, finished.
    const order = ['received from', 'deferred <', 'next attempt at', 'delivered <', 'finished:'].map((text) => result.stdout.indexOf(text));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('shows a bounce with its DSN, and the DSN as a message of its own', async () => {
    const result = await trace(env, bounced);
    expect(result.stdout).toMatch(/bounced <nobody@elsewhere\.test> \(5\.1\.1\) via mx\.elsewhere\.test \[127\.0\.0\.2\], TLS: 550 5\.1\.1 No such user here/);
    expect(result.stdout).toContain(`DSN (failed) sent to <app@example.test> as ${dsnId}`);
    expect(result.stdout).toMatch(new RegExp(`<nobody@elsewhere\\.test>: bounced \\(5\\.1\\.1\\) at [^,]+, DSN ${dsnId} to the sender`));
    const dsn = await trace(env, dsnId);
    expect(dsn.stdout).toMatch(/received from <> \(dsn\) for <app@example\.test>/);
    expect(dsn.stdout).toMatch(/delivered <app@example\.test> via mx\.example\.test/);
  });

  it('answers --json with the entries and endings', async () => {
    const result = await trace(env, retried, '--json');
    const [parsed] = JSON.parse(result.stdout) as JsonTrace[];
    expect(parsed.id).toBe(retried);
    expect(parsed.entries.map((entry) => entry.kind)).toEqual(['received', 'deferred', 'retry', 'delivered', 'finished']);
    expect(parsed.entries[1]).toMatchObject({ to: 'someone@elsewhere.test', status: '4.3.0', mx: 'mx.elsewhere.test', address: '127.0.0.2', reply: '451 4.3.0 Try again later', reason: 'remote_4xx' });
    expect(parsed.entries[3]).toMatchObject({ tls: true, address: '127.0.0.2' });
    expect(parsed.endings[0]).toMatch(/^<someone@elsewhere\.test>: delivered/);
  });

  it('finds the messages to or from an address, and says so when there are none', async () => {
    const byRecipient = JSON.parse((await trace(env, 'NOBODY@elsewhere.test', '--json')).stdout) as JsonTrace[];
    expect(byRecipient.map((entry) => entry.id)).toEqual([bounced]);
    const bySender = JSON.parse((await trace(env, 'app@example.test', '--json')).stdout) as JsonTrace[];
    expect(bySender.map((entry) => entry.id)).toEqual([retried, bounced, dsnId]);
    const none = await trace(env, 'stranger@elsewhere.test');
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/no trace found/);
  });

  it('refuses an argument that is neither a queue id nor an address', async () => {
    const result = await trace(env, '../../etc/passwd');
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/neither a queue id nor an address/);
  });

  it('shows the same trace on the ops listener, as a page and as JSON', async () => {
    const page = await get(env.relay.port('http'), `/trace/${retried}`);
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.body).toContain(`<h1>Message ${retried}</h1>`);
    expect(page.body).toMatch(/deferred &#60;someone@elsewhere\.test&#62; \(4\.3\.0\) via mx\.elsewhere\.test \[127\.0\.0\.2\], TLS: 451 4\.3\.0 Try again later/);
    const json = await get(env.relay.port('http'), `/trace/${retried}.json`);
    expect((JSON.parse(json.body) as JsonTrace).entries).toHaveLength(5);
    expect((await get(env.relay.port('http'), '/trace/0000000000000000000')).status).toBe(404);
  });
});
