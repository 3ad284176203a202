// The delivery worker's own bundle (relay/src/delivery/transmit-pool.ts runs it on worker threads):
// bundled on its own, carried inside dist/mxkit.js as source (relay/src/delivery/embedded-worker.ts).
// One definition for scripts/build.mjs and the tests (test/helpers/transmit-worker.ts), so tests run
// the worker as it ships: with the verifying-side libraries left out (bundle-excludes.mjs).
import { build } from 'esbuild';
import { dedupeIdenticalCopies, excludeFromWorker } from './bundle-excludes.mjs';

export async function workerSource(common = {}) {
  const worker = await build({
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
    ...common,
    plugins: [excludeFromWorker, dedupeIdenticalCopies()],
    entryPoints: ['relay/src/delivery/transmit-worker-main.ts'],
    write: false,
    outfile: 'transmit-worker.js',
  });
  return worker.outputFiles[0].text;
}
