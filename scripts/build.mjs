// Bundles the relay CLI into one pure-JavaScript file, dist/mxkit.js (no native addons, so the
// same file runs on arm64 and x86-64). Pulumi is never part of the bundle.
import { build } from 'esbuild';
import { chmodSync, statSync } from 'node:fs';

const outfile = 'dist/mxkit.js';
await build({
  entryPoints: ['relay/src/cli.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: false,
  legalComments: 'none',
  banner: { js: '#!/usr/bin/env node' },
  external: ['@pulumi/*'],
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
console.log(`built ${outfile} (${Math.round(statSync(outfile).size / 1024)} KiB)`);
