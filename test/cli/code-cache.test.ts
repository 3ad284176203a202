/**
 * The code cache of dist/mxkit.js (relay/src/code-cache/, `mxkit code-cache`): made beside the
 * bundle with the relay's node options, read by every start of that build with those options, and
 * never in the way: a cache of another build, one V8 refuses, or none, and the program compiles
 * from its source. The relay's ready line says which (`codeCache`).
 */
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { codeCacheCommand } from '../../relay/src/commands/code-cache';
import { RELAY_NODE_OPTIONS } from '../../relay/src/ops/heap-mode';
import { BUNDLE, startChildRelay } from '../helpers/child-relay';
import { tempDir, writeRelayFiles } from '../helpers/relay';
import { run } from '../helpers/run';
import { smtpTransport } from '../helpers/submit';

/** A copy of the bundle in a folder of its own, so the cache beside it is this test's. */
function bundleCopy(): string {
  const bundle = join(tempDir(), 'mxkit.js');
  copyFileSync(BUNDLE, bundle);
  return bundle;
}

function makeCodeCache(bundle: string, nodeOptions: readonly string[] = RELAY_NODE_OPTIONS, env: NodeJS.ProcessEnv = process.env) {
  return run(process.execPath, [...nodeOptions, bundle, 'code-cache'], '', env);
}

/** Starts the copy, submits one message (answered 250), stops it: its ready line's codeCache. */
async function startAndSubmit(bundle: string, nodeArgs: readonly string[] = []): Promise<string> {
  const files = await writeRelayFiles();
  const relay = await startChildRelay(files.configPath, nodeArgs, RELAY_NODE_OPTIONS, bundle);
  const transport = smtpTransport({ port: relay.ports.submissions, ca: files.certificate.cert });
  let metrics = '';
  try {
    const info = await transport.sendMail({ from: 'app@example.test', to: 'someone@elsewhere.test', subject: 'hello', text: 'hello' });
    expect(info.response).toMatch(/^250 /);
    metrics = await (await fetch(`http://127.0.0.1:${relay.ports.http}/metrics`)).text();
  } finally {
    transport.close();
    relay.process.kill('SIGTERM');
    await relay.exited;
  }
  const ready = relay
    .output()
    .split('\n')
    .find((line) => line.includes('"relay ready"'));
  const status = (JSON.parse(ready ?? '{}') as { codeCache?: string }).codeCache ?? 'no codeCache in the ready line';
  // /metrics says the same, for monitoring.
  expect(metrics).toMatch(new RegExp(`^mxkit_code_cache_info\\{status="${status}"\\} 1$`, 'm'));
  return status;
}

describe('the code cache of the bundled relay', () => {
  it('is absent from a fresh build, and the relay compiles its program from source and takes mail', async () => {
    expect(await startAndSubmit(bundleCopy())).toBe('absent');
  });

  it('is written beside the bundle by `mxkit code-cache`, and the next start is compiled from it and takes mail', async () => {
    const bundle = bundleCopy();
    // It starts and stops a relay on loopback first (its code goes into the cache), in a
    // temporary folder that is gone afterwards.
    const scratch = tempDir();
    const made = await makeCodeCache(bundle, RELAY_NODE_OPTIONS, { ...process.env, TMPDIR: scratch });
    expect(made).toMatchObject({ code: 0, stderr: '' });
    expect(made.stdout).toContain(`wrote ${bundle}.code-cache`);
    expect(readdirSync(scratch)).toEqual([]);
    expect(readFileSync(`${bundle}.code-cache`).subarray(0, 17).toString()).toBe('mxkit-code-cache ');
    expect(await startAndSubmit(bundle)).toBe('used');
  });

  it('is refused by V8 when the relay runs with other node options, and the relay compiles from source and takes mail', async () => {
    const bundle = bundleCopy();
    expect((await makeCodeCache(bundle)).code).toBe(0);
    // Any V8 flag changes the hash V8 checks a cache against.
    expect(await startAndSubmit(bundle, ['--stack-size=900'])).toBe('rejected');
  });

  it('is ignored when it was made for another build of the bundle', async () => {
    const bundle = bundleCopy();
    expect((await makeCodeCache(bundle)).code).toBe(0);
    const cache = readFileSync(`${bundle}.code-cache`);
    // The header names the build by its program's SHA-256 (hex): another build has another one.
    const idAt = cache.indexOf(' ', 'mxkit-code-cache 1'.length) + 1;
    cache[idAt] = cache[idAt] === 0x30 ? 0x31 : 0x30;
    writeFileSync(`${bundle}.code-cache`, cache);
    expect(await startAndSubmit(bundle)).toBe('other-build');
  });

  it('is not made without the relay node options, since no relay start could use it, and the refusal names them', async () => {
    const bundle = bundleCopy();
    const made = await makeCodeCache(bundle, []);
    expect(made.code).toBe(1);
    expect(made.stderr).toContain(`run it with the relay's node options (missing ${RELAY_NODE_OPTIONS.join(' ')})`);
    expect(() => readFileSync(`${bundle}.code-cache`)).toThrow(/ENOENT/);
  });

  it('is not made from source, where there is no carried program to cache', async () => {
    await expect(codeCacheCommand.run({ values: {}, positionals: [] }, () => undefined)).rejects.toThrow('only the built bundle (dist/mxkit.js) carries a program to cache');
  });
});
