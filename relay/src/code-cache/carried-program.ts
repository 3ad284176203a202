/**
 * What dist/mxkit.js's loader (loader.ts) and the program it runs share: where the program's V8
 * code cache lives, how a cache names the build it belongs to, and how the program learns whether
 * it was compiled from one (the relay's ready line) or makes one (`mxkit code-cache`).
 *
 * Why: compiling the program's ~0.8 MB of JavaScript is the largest single cost of a start
 * (docs/architecture.md "What loads at start"). V8 can instead take the code it compiled in an
 * earlier process (`vm.Script` `cachedData`, nodejs.org/api/vm.html#new-vmscriptcode-options). The
 * cache is made once per bundle and Node.js, when the relay's image is built, and only read at a
 * start: the relay never writes code where it runs.
 */
import { Buffer } from 'node:buffer';

/** How a start used the cache. */
export type CodeCacheStatus =
  /** V8 compiled the program from the cache. */
  | 'used'
  /** V8 refused it: made by another Node.js, or with other node options (V8 checks both). */
  | 'rejected'
  /** It was made for another build of the bundle. */
  | 'other-build'
  /** There is none: the program was compiled from its source. */
  | 'absent'
  /** It could not be read (permissions): compiled from source. */
  | 'unreadable';

export interface CarriedProgram {
  /** The bundle the loader and the program are in. */
  bundlePath: string;
  cacheFile: string;
  status: CodeCacheStatus;
  /** V8's code cache of the program as compiled so far, behind this build's header. */
  createCache(): Buffer;
}

/** The cache beside the bundle: `/opt/mxkit/mxkit.js` reads `/opt/mxkit/mxkit.js.code-cache`. */
export function codeCacheFile(bundlePath: string): string {
  return `${bundlePath}.code-cache`;
}

/**
 * The first bytes of a cache: the format and the build's program ID (the SHA-256 of the program's
 * text, written into the loader by scripts/program-carrier.mjs). V8 itself checks only the
 * source's length, so without the ID a cache of another build of the same length would be taken.
 */
export function codeCacheHeader(programId: string): Buffer {
  return Buffer.from(`mxkit-code-cache 1 ${programId}\n`, 'latin1');
}

// A global, not an import: the loader and the program are bundled apart and meet only here.
const CARRIED_PROGRAM = Symbol.for('mxkit.carriedProgram');

export function publishCarriedProgram(program: CarriedProgram): void {
  Object.defineProperty(globalThis, CARRIED_PROGRAM, { value: program });
}

/** The running bundle's program, or undefined when the code runs from source (tests, ts). */
export function carriedProgram(): CarriedProgram | undefined {
  return (globalThis as { [CARRIED_PROGRAM]?: CarriedProgram })[CARRIED_PROGRAM];
}
