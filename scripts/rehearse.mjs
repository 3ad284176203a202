// `npm run rehearse`: bundles test/rehearsal/main.ts (packages stay external, resolved from the
// project's node_modules) and runs it. Each module keeps its own __dirname, so code that finds the
// project's files relative to itself (stacks/, infra/) works as it does under jest.
import { build } from 'esbuild';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const keepDirname = {
  name: 'keep-dirname',
  setup(esbuild) {
    esbuild.onLoad({ filter: /\.ts$/ }, (args) => ({
      contents: `const __dirname = ${JSON.stringify(dirname(args.path))};\n${readFileSync(args.path, 'utf8')}`,
      loader: 'ts',
    }));
  },
};

// Namespaces, a loop device and mounts need root; say so and succeed, so `npm test`-style runs
// as a normal user do not fail on it (CI runs as root).
if (process.getuid?.() !== 0) {
  process.stdout.write('skipped: needs root (network and mount namespaces, a loop device, mounts)\n');
  process.exit(0);
}

const outdir = join('node_modules', '.cache', 'mxkit-rehearsal');
mkdirSync(outdir, { recursive: true });
const outfile = resolve(outdir, 'rehearse.cjs');
await build({ entryPoints: ['test/rehearsal/main.ts'], outfile, bundle: true, platform: 'node', target: 'node20', format: 'cjs', packages: 'external', logLevel: 'warning', plugins: [keepDirname] });
process.argv = [process.argv[0], outfile, ...process.argv.slice(2)];
await import(pathToFileURL(outfile).href);
