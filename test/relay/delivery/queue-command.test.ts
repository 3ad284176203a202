import { BUNDLE } from '../../helpers/child-relay';
import { run } from '../../helpers/run';
import { message, startDeliveryEnv, type DeliveryEnv } from './env';

interface ListedEntry {
  id: string;
  from: string;
  attempts: number;
  nextAttemptAt: string | null;
  recipients: Array<{ to: string; status: string; lastError?: string }>;
}

const queue = (env: DeliveryEnv, ...args: string[]) => run(process.execPath, [BUNDLE, 'queue', ...args, '--config', env.relay.configPath]);

describe('mxkit queue (against a running relay)', () => {
  let env: DeliveryEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('lists a deferred message with its recipients, next attempt and last error, retries it on request, and removes another without a bounce', async () => {
    // One 451, then a long retry interval: only `queue retry` brings the next attempt forward.
    env = await startDeliveryEnv({
      remote: { dataReplies: [451, 451] },
      configure: (config) => {
        config.delivery = { ...config.delivery, retrySchedule: ['1h'] };
      },
      relayOptions: { delivery: { controlPollMs: 50 } },
    });
    const first = await env.submit(message('first'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    await env.waitForEvent('deferred', (event) => event.id === first);
    const second = await env.submit(message('second'), { from: 'app@example.test', to: ['other@elsewhere.test'] });
    await env.waitForEvent('deferred', (event) => event.id === second);

    const listed = await queue(env, 'list', '--json');
    expect(listed.code).toBe(0);
    const entries = JSON.parse(listed.stdout) as ListedEntry[];
    expect(entries.map((entry) => entry.id).sort()).toEqual([first, second].sort());
    const entry = entries.find((candidate) => candidate.id === first) as ListedEntry;
    expect(entry.from).toBe('app@example.test');
    expect(entry.attempts).toBe(1);
    expect(Date.parse(entry.nextAttemptAt ?? '')).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(entry.recipients).toEqual([{ to: 'someone@elsewhere.test', status: 'pending', attempts: 1, lastError: expect.stringMatching(/^451 4\.3\.0/) }]);
    const human = await queue(env, 'list');
    expect(human.stdout).toContain(first);
    expect(human.stdout).toMatch(/pending\s+<someone@elsewhere\.test>\s+last error: 451/);

    const removed = await queue(env, 'remove', second);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`removed ${second}`);
    expect((await queue(env, 'remove', second)).code).toBe(1);

    const retried = await queue(env, 'retry', first);
    expect(retried.code).toBe(0);
    await env.waitForEvent('finished', (event) => event.id === first);
    expect(env.remote.messages.map((mail) => mail.rcptTo)).toEqual([['someone@elsewhere.test']]);
    expect(env.home.messages).toHaveLength(0); // removal sends no bounce
    expect((await queue(env, 'list')).stdout.trim()).toBe('queue is empty');
  });

  it('refuses an argument that is not a queue id', async () => {
    env = await startDeliveryEnv();
    const result = await queue(env, 'remove', '../../etc/passwd');
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/not a queue id/);
  });
});
