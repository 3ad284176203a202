// Lints texts as if they were the named files of the repository, with the config `npm run lint`
// (`eslint .`) uses. Reads [{ file, text }] as JSON on stdin, prints [[ "rule: message", ... ]].
// A child process because jest's module sandbox cannot load the ESM config file.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
let input = '';
for await (const chunk of process.stdin) input += chunk;
const eslint = new ESLint({ cwd: root });
const output = [];
for (const { file, text } of JSON.parse(input)) {
  const [result] = await eslint.lintText(text, { filePath: join(root, file) });
  output.push(result.messages.map((message) => `${message.ruleId ?? 'parse'}: ${message.message}`));
}
process.stdout.write(JSON.stringify(output));
