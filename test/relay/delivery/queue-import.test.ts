/**
 * `mxkit queue import`: the queue of a removed host's spool moves into a running relay's spool
 * and is delivered from there, to the recipients still pending only.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Spool } from '../../../relay/src/spool/spool';
import { BUNDLE } from '../../helpers/child-relay';
import { tempDir } from '../../helpers/relay';
import { run } from '../../helpers/run';
import { message, startDeliveryEnv, type DeliveryEnv } from './env';

const importInto = (env: DeliveryEnv, ...args: string[]) => run(process.execPath, [BUNDLE, 'queue', 'import', ...args, '--config', env.relay.configPath]);

/** A spool as a removed host leaves it: one message, delivered to one recipient, pending for another. */
async function removedHostSpool(): Promise<{ dir: string; id: string }> {
  const dir = join(tempDir('mxkit-old-host-'), 'spool');
  const spool = new Spool(dir);
  await spool.open();
  const envelope = await spool.enqueue(
    { mailFrom: 'app@example.test', rcptTo: ['done@elsewhere.test', 'someone@elsewhere.test'], origin: 'submission', listener: 'submission', clientAddress: '192.0.2.7', authUser: 'app', smtpUtf8: false, bodyType: '7bit' },
    Buffer.from(message('queued on the removed host', 'app@example.test', 'someone@elsewhere.test')),
  );
  const recipient = (to: string, status: 'delivered' | 'pending') => ({ to, original: to, mailFrom: 'app@example.test', status, attempts: 1, lastAttemptAt: new Date().toISOString() });
  await spool.state.write({
    id: envelope.id,
    attempts: 1,
    nextAttemptAt: new Date(Date.now() + 3_600_000).toISOString(),
    recipients: [recipient('done@elsewhere.test', 'delivered'), recipient('someone@elsewhere.test', 'pending')],
  });
  return { dir, id: envelope.id };
}

describe('mxkit queue import', () => {
  let env: DeliveryEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('moves another spool\'s queue into the running relay, which delivers it at once to the recipients still pending', async () => {
    env = await startDeliveryEnv({ relayOptions: { delivery: { controlPollMs: 50 } } });
    const old = await removedHostSpool();
    const result = await importInto(env, old.dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`moved ${old.id}`);
    expect(result.stdout).toMatch(/1 message moved from .* delivery requested/);
    await env.waitForEvent('finished', (event) => event.id === old.id);
    expect(env.remote.messages.map((mail) => mail.rcptTo)).toEqual([['someone@elsewhere.test']]);
    expect(env.remote.messages[0].raw.toString('latin1')).toMatch(/^DKIM-Signature: /m);
    expect(readdirSync(join(old.dir, 'queue'))).toEqual([]);
    expect(existsSync(join(old.dir, 'state', `${old.id}.json`))).toBe(false);
    const again = await importInto(env, old.dir);
    expect(again.stdout).toMatch(/^0 messages moved/m);
  });

  it('refuses a folder that is not a spool, and the relay\'s own spool', async () => {
    env = await startDeliveryEnv();
    const notSpool = await importInto(env, tempDir());
    expect(notSpool.code).toBe(1);
    expect(notSpool.stderr).toMatch(/has no queue\/ folder: not a relay's spoolDir/);
    const own = await importInto(env, join(env.relay.dir, 'spool'));
    expect(own.code).toBe(1);
    expect(own.stderr).toMatch(/is this relay's own spool/);
  });
});
