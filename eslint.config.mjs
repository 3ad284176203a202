import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import mxkit from './scripts/lint/import-cycles.mjs';

/**
 * Import boundaries (docs/architecture.md "Layers"): what each folder may not import. A relative
 * specifier is matched from the importing file, so `(../)+delivery/` from relay/src/intake/ is an
 * import of relay/src/delivery/. ESLint keeps only the last `no-restricted-imports` setting that
 * applies to a file, so every folder's entry repeats the rules of relay/ as a whole.
 */
const folder = (name) => `^(\\.\\./)+${name}(/|$)`;
const rule = (regex, message) => ({ regex, message });

const RELAY_WIDE = [
  rule('^@pulumi/', 'relay/ never imports @pulumi: the bundle stays small and pure JavaScript (docs/architecture.md "Layers").'),
  rule('infra/(components|deploy-test)(/|$)|infra/(index|config|mail-server)$', 'relay/ may import only infra/builders (pure functions), never the Pulumi program.'),
  rule('(^|/)(test|bench)/', 'the relay never imports tests or benchmarks.'),
];
const NOT_INTAKE = rule(folder('intake'), 'delivery never imports intake: they meet only through the spool and what relay.ts injects (docs/architecture.md).');
const NOT_DELIVERY = rule(folder('delivery'), 'intake never imports delivery: they meet only through the spool and what relay.ts injects (docs/architecture.md).');
const NOT_COMMANDS = rule(folder('commands'), 'only cli.ts dispatches to commands/.');
const NOT_LOCAL = rule(folder('local'), 'only the `local` command starts relay/src/local.');
const NOT_CHECK = rule(folder('check'), 'relay/src/check is for the `check` command and `local`, not the running relay.');
const ONLY_CONFIG = rule('^\\.\\./(?!config/|mail/)', 'config/ imports only mail/ (the address model it normalises config addresses with).');
const BELOW_INTAKE = [NOT_INTAKE, NOT_DELIVERY, NOT_COMMANDS, NOT_LOCAL, NOT_CHECK];

/** Folder (under relay/src) -> what it may not import, besides RELAY_WIDE. */
const LAYERS = {
  config: [ONLY_CONFIG],
  patches: [rule('^\\.\\./', 'patches/ imports nothing of the relay: every layer may use it.')],
  mail: [rule('^\\.\\./(?!mail/)', 'mail/ (the address and message model) is the bottom layer: it imports nothing else of the relay.')],
  spool: [rule('^\\.\\./(?!config/|spool/)', 'spool/ imports only config/: only it touches spoolDir, and it knows nothing of who writes or reads.')],
  intake: [NOT_DELIVERY, NOT_COMMANDS, NOT_LOCAL, NOT_CHECK],
  delivery: [NOT_INTAKE, NOT_COMMANDS, NOT_LOCAL, NOT_CHECK],
  spam: BELOW_INTAKE,
  tls: BELOW_INTAKE,
  ops: [NOT_INTAKE, NOT_COMMANDS, NOT_LOCAL, NOT_CHECK],
  trace: [NOT_INTAKE, NOT_COMMANDS, NOT_LOCAL, NOT_CHECK],
  reports: [NOT_COMMANDS, NOT_LOCAL, NOT_CHECK],
  suppression: [NOT_COMMANDS, NOT_LOCAL, NOT_CHECK],
  check: [NOT_INTAKE, NOT_DELIVERY, NOT_COMMANDS, NOT_LOCAL],
  local: [NOT_DELIVERY, NOT_COMMANDS],
  commands: [],
};

const restricted = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

const boundaries = [
  {
    files: ['relay/**/*.ts'],
    rules: restricted([...RELAY_WIDE, rule('^\\./(commands|local|check)/', 'relay/src/*.ts wiring may not reach into commands/, local/ or check/; cli.ts dispatches.')]),
  },
  { files: ['relay/src/cli.ts'], rules: restricted(RELAY_WIDE) },
  ...Object.entries(LAYERS).map(([name, patterns]) => ({ files: [`relay/src/${name}/**/*.ts`], rules: restricted([...RELAY_WIDE, ...patterns]) })),
  {
    // Bundled into the relay CLI (records, local): pure functions only.
    files: ['infra/builders/**/*.ts'],
    rules: restricted([
      rule('^@pulumi/', 'infra/builders are pure functions the relay bundles: no @pulumi (docs/architecture.md).'),
      rule('^\\.\\./(?!builders/|\\.\\./relay/src/config/)', 'infra/builders import only each other and relay/src/config.'),
    ]),
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', '.mxkit-local/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.ts'],
    plugins: { mxkit },
    rules: { 'mxkit/no-import-cycle': 'error' },
  },
  ...boundaries,
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
