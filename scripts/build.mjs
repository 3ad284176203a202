// Bundles the relay CLI into one pure-JavaScript file, dist/mxkit.js (no native addons, so the
// same file runs on arm64 and x86-64). Pulumi is never part of the bundle.
//
// Minified (identifiers kept, so stack traces and error names stay readable), and code the relay
// never runs is left out, and identical copies of a package npm nested in several places go in once
// (scripts/bundle-excludes.mjs). Smaller means less to read and compile at every start.
//
// The delivery worker (relay/src/delivery/transmit-pool.ts) is bundled first, on its own, and
// carried inside dist/mxkit.js as source (relay/src/delivery/embedded-worker.ts): one file still,
// and a worker thread that loads only what it runs.
//
// The program goes into the file behind a small loader that can compile it from V8's code cache
// (scripts/program-carrier.mjs, `mxkit code-cache`); a cache of an earlier build is removed.
import { build } from 'esbuild';
import { chmodSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { dedupeIdenticalCopies, embedColdPackages, excludeUnusedParts } from './bundle-excludes.mjs';
import { carryProgram, loaderSource, programText } from './program-carrier.mjs';
import { workerSource as bundleWorker } from './worker-bundle.mjs';

const outfile = 'dist/mxkit.js';
const metafile = process.argv.includes('--metafile');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: false,
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: true,
  keepNames: true,
  legalComments: 'none',
  external: ['@pulumi/*'],
  plugins: [excludeUnusedParts, dedupeIdenticalCopies()],
  logLevel: 'warning',
};

const workerSource = await bundleWorker(common);

const result = await build({
  ...common,
  entryPoints: ['relay/src/cli.ts'],
  outfile,
  write: false,
  define: { __MXKIT_TRANSMIT_WORKER__: JSON.stringify(workerSource) },
  plugins: [...common.plugins, embedColdPackages(common)],
  metafile,
});
// esbuild wrote nothing (write: false), so the folder may not exist yet on a fresh clone.
mkdirSync(dirname(outfile), { recursive: true });
writeFileSync(outfile, carryProgram(programText(result.outputFiles[0].text), await loaderSource(common)));
chmodSync(outfile, 0o755);
rmSync(`${outfile}.code-cache`, { force: true });
console.log(`built ${outfile} (${Math.round(statSync(outfile).size / 1024)} KiB, of which the delivery worker ${Math.round(workerSource.length / 1024)} KiB)`);
if (metafile) {
  // `node scripts/build.mjs --metafile`: what each package adds to the bundle, largest first.
  const inputs = Object.values(result.metafile.outputs)[0].inputs;
  const byPackage = new Map();
  for (const [path, { bytesInOutput }] of Object.entries(inputs)) {
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path.split('/').slice(0, 2).join('/');
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  for (const [name, bytes] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${String(Math.round(bytes / 1024)).padStart(6)} KiB  ${name}`);
}
