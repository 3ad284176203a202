// Runs a TypeScript entry point (bench, scripts) by bundling it with esbuild to a temp file.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [entry, ...args] = process.argv.slice(2);
// Inside node_modules so the bundle's external packages resolve from the project.
const outdir = join('node_modules', '.cache', 'mxkit-run');
mkdirSync(outdir, { recursive: true });
const outfile = resolve(outdir, `${process.pid}.cjs`);
await build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', target: 'node20', format: 'cjs', packages: 'external', logLevel: 'warning', define: { __dirname: JSON.stringify(resolve(entry, '..')) } });
process.argv = [process.argv[0], outfile, ...args];
await import(pathToFileURL(outfile).href);
