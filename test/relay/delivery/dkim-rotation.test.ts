/**
 * Several DKIM keys per domain (rotation, docs/deploy.md): the first entry of a domain signs, the
 * others stay published and loaded but sign nothing. What the receiving MTA sees is judged by
 * python3-dkim against the test DNS.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dkimValue } from '../../../infra/builders/records';
import { message, startDeliveryEnv, type DeliveryEnv } from './env';
import { dkimpyVerify } from './verify';

const second = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const ed25519 = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

function signatures(raw: Buffer): Array<{ selector: string; algorithm: string }> {
  const text = raw.toString('latin1');
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  const unfolded = head.replace(/\r\n[ \t]+/g, ' ');
  return [...unfolded.matchAll(/^DKIM-Signature:(.*)$/gim)].map((match) => ({
    selector: /\bs=([^;\s]+)/.exec(match[1])?.[1] ?? '',
    algorithm: /\ba=([^;\s]+)/.exec(match[1])?.[1] ?? '',
  }));
}

describe('a domain with several DKIM keys', () => {
  let env: DeliveryEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  const withKeys = (selectors: Array<'mx1' | 'mx2' | 'ed1'>) =>
    startDeliveryEnv({
      configure: (config, dir) => {
        writeFileSync(join(dir, 'mx2.key'), second.privateKey, { mode: 0o600 });
        writeFileSync(join(dir, 'ed1.key'), ed25519.privateKey, { mode: 0o600 });
        const files = { mx1: join(dir, 'dkim.key'), mx2: join(dir, 'mx2.key'), ed1: join(dir, 'ed1.key') };
        config.dkim = selectors.map((selector) => ({ domain: 'example.test', selector, keyFile: files[selector] }));
      },
    });

  it('signs with the first key only while the second is only published (rotation step 1: the new key is added last)', async () => {
    env = await withKeys(['mx1', 'mx2']);
    env.dns.set('mx2._domainkey.example.test', { TXT: [dkimValue(second.publicKey)] });
    await env.submit(message('step one'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    const [received] = await env.remote.waitForMessages(1);
    expect(signatures(received.raw)).toEqual([{ selector: 'mx1', algorithm: 'rsa-sha256' }]);
    expect(await dkimpyVerify(received.raw, env.dns)).toBe('pass');
  });

  it('signs with the new key once it is moved to the front, and the signature verifies against its published record (step 2)', async () => {
    env = await withKeys(['mx2', 'mx1']);
    env.dns.set('mx2._domainkey.example.test', { TXT: [dkimValue(second.publicKey)] });
    await env.submit(message('step two'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    const [received] = await env.remote.waitForMessages(1);
    expect(signatures(received.raw)).toEqual([{ selector: 'mx2', algorithm: 'rsa-sha256' }]);
    expect(await dkimpyVerify(received.raw, env.dns)).toBe('pass');
    // The old key's record is still there for mail signed before; removing it does not matter to this message.
    env.dns.set('mx1._domainkey.example.test', {});
    expect(await dkimpyVerify(received.raw, env.dns)).toBe('pass');
  });

  it('keeps signing with an Ed25519 key beside the first RSA key (the first key of each type signs)', async () => {
    env = await withKeys(['mx1', 'ed1', 'mx2']);
    await env.submit(message('dual'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    const [received] = await env.remote.waitForMessages(1);
    expect(signatures(received.raw).sort((a, b) => a.selector.localeCompare(b.selector))).toEqual([
      { selector: 'ed1', algorithm: 'ed25519-sha256' },
      { selector: 'mx1', algorithm: 'rsa-sha256' },
    ]);
  });
});
