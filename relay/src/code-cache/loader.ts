/**
 * The start of dist/mxkit.js: compiles the program carried in the same file
 * (scripts/program-carrier.mjs) with V8's code cache beside the bundle when there is one of this
 * build, and runs it as the file's own module (same exports, require, module, __filename).
 *
 * The program is carried as line comments in the body of `mxkitProgram`, so Node compiling the file
 * costs only skipping them; Function.prototype.toString gives their text back without reading the
 * file again (ECMA-262 "Function.prototype.toString": the source text as written). A cache V8
 * refuses (another Node.js or other node options) or one of another build only costs the compile
 * it would have saved: the program always runs.
 */
import { readFileSync } from 'node:fs';
import { Script } from 'node:vm';
import { codeCacheFile, codeCacheHeader, publishCarriedProgram, type CodeCacheStatus } from './carried-program';

/** The SHA-256 of the program's text, set by scripts/program-carrier.mjs. */
declare const __MXKIT_PROGRAM_ID__: string;
/** Declared after this script in the same file; its body is the program, one `//` per line. */
declare function mxkitProgram(): void;

/** The program's first line is the file's third (after the shebang and `function mxkitProgram() {`). */
const PROGRAM_LINE_OFFSET = 2;

type ModuleFunction = (exports: unknown, require: NodeJS.Require, module: NodeJS.Module, filename: string, dirname: string) => void;

function programSource(): string {
  const text = mxkitProgram.toString();
  // "function mxkitProgram() {\n//line 1\n//line 2\n...\n}": each line has exactly one "//" put
  // after its "\n", so removing "//" after every "\n" gives the program back exactly.
  return text.slice(text.indexOf('\n') + 3, text.lastIndexOf('\n')).replaceAll('\n//', '\n');
}

function readCache(file: string, header: Buffer): { status: CodeCacheStatus; data?: Buffer } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    return { status: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'unreadable' };
  }
  if (bytes.length <= header.length || !bytes.subarray(0, header.length).equals(header)) return { status: 'other-build' };
  return { status: 'used', data: bytes.subarray(header.length) };
}

const header = codeCacheHeader(__MXKIT_PROGRAM_ID__);
const cacheFile = codeCacheFile(__filename);
const cache = readCache(cacheFile, header);
const script = new Script(programSource(), { filename: __filename, lineOffset: PROGRAM_LINE_OFFSET, ...(cache.data ? { cachedData: cache.data } : {}) });
publishCarriedProgram({
  bundlePath: __filename,
  cacheFile,
  status: cache.data && script.cachedDataRejected ? 'rejected' : cache.status,
  createCache: () => Buffer.concat([header, script.createCachedData()]),
});
(script.runInThisContext() as ModuleFunction)(exports, require, module, __filename, __dirname);
