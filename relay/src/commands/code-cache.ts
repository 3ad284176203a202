/**
 * `mxkit code-cache`: writes V8's code cache of this bundle's program beside it
 * (`<bundle>.code-cache`), which every later start reads instead of compiling the program
 * (relay/src/code-cache/). Made once per bundle and Node.js, where the bundle is installed: the
 * relay's image does it when it is built (relay/Dockerfile); the relay itself never writes it.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { carriedProgram } from '../code-cache/carried-program';
import { RELAY_NODE_OPTIONS } from '../ops/heap-mode';
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
  // Made now, after the program's modules have set themselves up, the cache holds what every
  // start compiles before the relay's own code runs.
  const cache = program.createCache();
  const partial = `${program.cacheFile}.partial`;
  writeFileSync(partial, cache, { mode: 0o644 });
  renameSync(partial, program.cacheFile);
  print(`wrote ${program.cacheFile} (${Math.round(cache.length / 1024)} KiB) for Node.js ${process.version}`);
  return 0;
}
