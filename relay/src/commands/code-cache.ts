/**
 * `mxkit code-cache`: writes V8's code cache of this bundle's program beside it
 * (`<bundle>.code-cache`), which every later start reads instead of compiling the program
 * (relay/src/code-cache/). Made once per bundle and Node.js, where the bundle is installed: the
 * relay's image does it when it is built (relay/Dockerfile); the relay itself never writes it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { carriedProgram } from '../code-cache/carried-program';
import { loadRelay } from '../load-relay';
import { createLogger } from '../ops/logger';
import { RELAY_NODE_OPTIONS } from '../ops/heap-mode';
import { startRelay } from '../relay';
import { temporaryCertificate } from '../tls/certificate';
import { CommandFailure, noMorePositionals, type Command, type ParsedCommandLine, type Print } from './contract';

export const codeCacheCommand: Command = {
  name: 'code-cache',
  synopsis: 'code-cache',
  summary: 'write the code cache that makes the relay start faster (once per bundle and Node.js)',
  usage: `usage: mxkit code-cache
  compiles this bundle's program and writes V8's code cache of it beside the bundle
  (<bundle>.code-cache); the relay reads it at every start instead of compiling the program.
  Run it with the relay's node options and the Node.js that runs the relay, once per bundle:
    node ${RELAY_NODE_OPTIONS.join(' ')} mxkit.js code-cache
  A start with another Node.js or other node options, or of another build, ignores the cache
  (its ready line says codeCache "rejected" or "other-build").`,
  options: {},
  run: runCodeCache,
};

async function runCodeCache(args: ParsedCommandLine, print: Print): Promise<number> {
  noMorePositionals(args, 0);
  const program = carriedProgram();
  if (!program) throw new CommandFailure('code-cache: only the built bundle (dist/mxkit.js) carries a program to cache');
  // V8 takes a cache only in a process with the node options it was made with (it checks a hash
  // of every V8 flag), so one made without the relay's options would never be used.
  const missing = RELAY_NODE_OPTIONS.filter((option) => !process.execArgv.includes(option));
  if (missing.length > 0) throw new CommandFailure(`code-cache: run it with the relay's node options (missing ${missing.join(' ')}): node ${RELAY_NODE_OPTIONS.join(' ')} ${program.bundlePath} code-cache`);
  // V8 caches the functions compiled so far: a relay started and stopped first puts what every
  // start runs into the cache, not only the modules' set-up (~16 ms less per start on the bench
  // machine). No V8 flag may be set before this (the relay command sets its heap flags only after
  // the program is compiled), or the hash in the cache would not match any start's.
  await startAndStopRelay();
  const cache = program.createCache();
  const partial = `${program.cacheFile}.partial`;
  writeFileSync(partial, cache, { mode: 0o644 });
  renameSync(partial, program.cacheFile);
  print(`wrote ${program.cacheFile} (${Math.round(cache.length / 1024)} KiB) for Node.js ${process.version}`);
  return 0;
}

/**
 * A relay on loopback with a throwaway config (every listener on a free port, a stand-in certificate,
 * a DKIM key, an empty spool), started and stopped: nothing leaves the machine, nothing stays.
 */
async function startAndStopRelay(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mxkit-code-cache-'));
  try {
    const hostname = 'relay.code-cache.invalid';
    const tls = await temporaryCertificate(hostname, []);
    writeFileSync(join(dir, 'tls.crt'), tls.cert);
    writeFileSync(join(dir, 'tls.key'), tls.key, { mode: 0o600 });
    writeFileSync(join(dir, 'dkim.key'), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const loopback = { host: '127.0.0.1', port: 0 };
    const config = {
      hostname,
      domains: ['code-cache.invalid'],
      listen: { mx: loopback, submission: loopback, submissions: loopback, http: loopback },
      tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
      dkim: [{ domain: 'code-cache.invalid', selector: 'mxkit', keyFile: join(dir, 'dkim.key') }],
      spoolDir: join(dir, 'spool'),
      // Nothing is queued; should delivery look anything up, it asks a closed loopback port.
      delivery: { dnsServers: ['127.0.0.1:9'] },
      log: { level: 'silent' },
    };
    writeFileSync(join(dir, 'relay.json'), JSON.stringify(config));
    const loaded = await loadRelay(join(dir, 'relay.json'));
    const relay = await startRelay(loaded, createLogger('silent'));
    await relay.shutdown();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
