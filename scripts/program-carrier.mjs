// Puts the bundled program into dist/mxkit.js behind its loader (relay/src/code-cache/loader.ts),
// so a start can compile it from V8's code cache (`mxkit code-cache`) instead of from source.
//
// The file, one pure-JavaScript file still:
//   #!/usr/bin/env node
//   "use strict";function mxkitProgram() {
//   //(function (exports, require, module, __filename, __dirname) {<the program's first line>
//   //<every other line of the program, each behind "//">
//   //})
//   }
//   <the loader>
// Line comments, not a block comment: the program holds "*/" (in strings and regular expressions)
// and V8 skips a line comment far faster than it scans a block comment (measured: ~12 ms of every
// start for a block comment holding the program on the bench machine).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { fileURLToPath, URL } from 'node:url';

const SHEBANG = '#!/usr/bin/env node\n';
const PROGRAM_ID_PLACEHOLDER = 'program-id-set-by-program-carrier';

/** The program as the loader compiles it: the bundle wrapped the way Node wraps a CommonJS module. */
export function programText(bundle) {
  const code = bundle.startsWith('#!') ? bundle.slice(bundle.indexOf('\n') + 1) : bundle;
  // A line terminator other than "\n" would end a line comment without its "//" (ECMA-262
  // LineTerminator: LF, CR, U+2028, U+2029); esbuild's minified output is ASCII with "\n" only.
  const bad = /[\r\u2028\u2029]/.exec(code);
  if (bad) throw new Error(`the program holds a line terminator other than \\n at ${bad.index}; it cannot be carried in line comments`);
  return `(function (exports, require, module, __filename, __dirname) {${code}\n})`;
}

/** dist/mxkit.js's text: shebang, the program in line comments, the loader with the program's ID. */
export function carryProgram(program, loader) {
  const programId = createHash('sha256').update(program).digest('hex');
  const placeholder = JSON.stringify(PROGRAM_ID_PLACEHOLDER);
  if (!loader.includes(placeholder)) throw new Error('the loader does not take the program ID');
  return `${SHEBANG}"use strict";function mxkitProgram() {\n//${program.split('\n').join('\n//')}\n}\n${loader.replace(placeholder, JSON.stringify(programId))}`;
}

/** The loader, bundled on its own (Node's built-ins only), its program ID still a placeholder. */
export async function loaderSource(common) {
  const result = await build({
    ...common,
    plugins: [],
    entryPoints: [fileURLToPath(new URL('../relay/src/code-cache/loader.ts', import.meta.url))],
    define: { __MXKIT_PROGRAM_ID__: JSON.stringify(PROGRAM_ID_PLACEHOLDER) },
    write: false,
    outfile: 'loader.js',
  });
  return result.outputFiles[0].text;
}
