/** Transpile-only (swc): type checking happens once, in `npm run typecheck`. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  transformIgnorePatterns: ['/node_modules/'],
  // Dynamic imports in relay/src name the compiled file ('./x.js', as TypeScript's node16 mode
  // requires); from source that is the .ts file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 30000,
  // Two suites at once even on a two-core machine (jest's default there is one): most suites wait
  // on sockets, child processes and timers rather than the CPU. The whole suite took ~7 min instead
  // of ~10 on the CI machine's kind, which keeps CI clear of its 20-minute limit.
  maxWorkers: 2,
};
