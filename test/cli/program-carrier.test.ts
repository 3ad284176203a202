/**
 * How dist/mxkit.js carries its program (scripts/program-carrier.mjs, relay/src/code-cache/loader.ts):
 * in line comments behind a loader that gives the exact text back to V8. A program whose text
 * would not survive that (a line comment holding it, "//" or "*\/" inside it) must run unchanged,
 * with the file's own line numbers in its stack traces; one that cannot be carried stops the build.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/relay';
import { run } from '../helpers/run';

const ROOT = join(__dirname, '..', '..');

/** The carried file for `program` (a bundle's text), made by the build's own functions. */
async function carried(program: string): Promise<{ code: number | null; file: string; stderr: string }> {
  const script = `import { carryProgram, loaderSource, programText } from ${JSON.stringify(join(ROOT, 'scripts', 'program-carrier.mjs'))};
let input = ''; for await (const chunk of process.stdin) input += chunk;
process.stdout.write(carryProgram(programText(input), await loaderSource({ bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning' })));`;
  const result = await run(process.execPath, ['--input-type=module', '-e', script], program);
  return { code: result.code, file: result.stdout, stderr: result.stderr };
}

const TRICKY = [
  '#!/usr/bin/env node',
  '"use strict";',
  'const texts = [`two',
  '//lines`, "*/", "\\n//", /\\*/.source, `',
  '',
  '`];',
  '// a comment at the start of a line',
  'const where = new Error("here").stack.split("\\n")[1];',
  'console.log(JSON.stringify({ texts, where, module: typeof module.exports, file: __filename }));',
].join('\n');

describe('the carried program', () => {
  it('runs exactly as written, as the file own module, with the file line numbers in its stack traces', async () => {
    const made = await carried(TRICKY);
    expect(made).toMatchObject({ code: 0, stderr: '' });
    const file = join(tempDir(), 'carried.js');
    writeFileSync(file, made.file);
    const ran = await run(process.execPath, [file]);
    expect(ran.stderr).toBe('');
    const output = JSON.parse(ran.stdout) as { texts: string[]; where: string; module: string; file: string };
    expect(output.texts).toEqual(['two\n//lines', '*/', '\n//', '\\*', '\n\n']);
    expect(output.module).toBe('object');
    expect(output.file).toBe(file);
    // "new Error" is on the program's line 7 (after the shebang): the carried file's line 9, after the shebang
    // and the line that opens mxkitProgram.
    const lineOfError = made.file.split('\n').findIndex((line) => line.includes('new Error("here")')) + 1;
    expect(lineOfError).toBe(9);
    expect(output.where).toContain(`${file}:${lineOfError}:`);
  });

  it('is refused at build time when it holds a line terminator a line comment would end at (CR, U+2028)', async () => {
    for (const terminator of ['\r', '\u2028']) {
      const made = await carried(`console.log("a${terminator}b");`);
      expect(made.code).not.toBe(0);
      expect(made.stderr).toContain('the program holds a line terminator other than \\n');
    }
  });
});
