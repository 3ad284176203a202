/**
 * The import boundaries of docs/architecture.md "Layers" are enforced by `npm run lint`: each
 * case lints a real file of the repository with one violating import added, through the same
 * config `eslint .` uses, and expects the rule that refuses it. The unchanged file lints clean,
 * so the failure is the added import's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../helpers/run';

const ROOT = join(__dirname, '..', '..');

interface Case {
  what: string;
  file: string;
  added: string;
  expected: RegExp;
}

const CASES: Case[] = [
  { what: 'intake importing delivery', file: 'relay/src/intake/reply.ts', added: "import '../delivery/srs';", expected: /^no-restricted-imports: .*intake never imports delivery/ },
  { what: 'delivery importing intake', file: 'relay/src/delivery/srs.ts', added: "import '../intake/reply';", expected: /^no-restricted-imports: .*delivery never imports intake/ },
  { what: 'the relay importing @pulumi', file: 'relay/src/spool/layout.ts', added: "import '@pulumi/pulumi';", expected: /^no-restricted-imports: .*never imports @pulumi/ },
  { what: 'the relay importing a Pulumi component', file: 'relay/src/ops/logger.ts', added: "import '../../../infra/components/host';", expected: /^no-restricted-imports: .*only infra\/builders/ },
  { what: 'a shared builder importing @pulumi', file: 'infra/builders/txt.ts', added: "import '@pulumi/pulumi';", expected: /^no-restricted-imports: .*no @pulumi/ },
  { what: 'config importing a layer above it', file: 'relay/src/config/duration.ts', added: "import '../spool/layout';", expected: /^no-restricted-imports: .*config\/ imports only mail\// },
  { what: 'the address model importing config', file: 'relay/src/mail/address-match.ts', added: "import '../config/duration';", expected: /^no-restricted-imports: .*mail\/ .* is the bottom layer/ },
  { what: 'the spool importing delivery', file: 'relay/src/spool/layout.ts', added: "import '../delivery/srs';", expected: /^no-restricted-imports: .*spool\/ imports only config/ },
  { what: 'a module outside cli.ts importing a command', file: 'relay/src/local/banner.ts', added: "import '../commands/contract';", expected: /^no-restricted-imports: .*only cli\.ts dispatches/ },
  {
    // spool/spool.ts imports spool/state.ts: state importing spool back closes a cycle.
    what: 'an import cycle, type-only imports included',
    file: 'relay/src/spool/state.ts',
    added: "import type { Spool } from './spool';\nexport type Unused = Spool;",
    expected: /^mxkit\/no-import-cycle: import cycle: relay\/src\/spool\/state\.ts → relay\/src\/spool\/spool\.ts → relay\/src\/spool\/state\.ts/,
  },
];

/** Each case's file as it is, then with the import added: what `npm run lint` says of both. */
let results: Array<{ clean: string[]; added: string[] }>;
beforeAll(async () => {
  const texts = CASES.flatMap(({ file, added }) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    return [{ file, text }, { file, text: `${added}\n${text}` }];
  });
  const linted = await run(process.execPath, [join(__dirname, 'lint-texts.mjs')], JSON.stringify(texts));
  if (linted.code !== 0) throw new Error(`lint-texts.mjs exited ${linted.code}: ${linted.stderr}`);
  const messages = JSON.parse(linted.stdout) as string[][];
  results = CASES.map((_, index) => ({ clean: messages[2 * index], added: messages[2 * index + 1] }));
}, 60_000);

describe('npm run lint refuses an import across a boundary', () => {
  test.each(CASES.map((item, index) => [item.what, index] as const))('%s', (_what, index) => {
    expect(results[index].clean).toEqual([]);
    expect(results[index].added).toEqual([expect.stringMatching(CASES[index].expected)]);
  });
});
