/**
 * The delivery worker's source, bundled exactly as scripts/build.mjs bundles it
 * (scripts/worker-bundle.mjs, in a child process since it is an ES module), so tests run real
 * worker threads from the TypeScript sources with what the shipped worker leaves out.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';

let source: Promise<string> | undefined;

export function transmitWorkerSource(): Promise<string> {
  const script = "import { workerSource } from './scripts/worker-bundle.mjs'; process.stdout.write(await workerSource());";
  source ??= new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: join(__dirname, '..', '..'), maxBuffer: 64 * 1024 * 1024 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
  return source;
}
