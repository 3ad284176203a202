/**
 * The stand-ins' entry point, installed in a rehearsed instance as /usr/bin/aws, /usr/bin/docker
 * and /usr/bin/systemctl (small sh wrappers that pass their name first).
 */
import { runAws } from './aws';
import { runDocker } from './docker';
import { note, StandinError } from './log';
import { runSystemctl } from './systemctl';

async function main([tool, ...argv]: string[]): Promise<number> {
  switch (tool) {
    case 'aws':
      return runAws(argv);
    case 'docker':
      return runDocker(argv);
    case 'systemctl':
      return runSystemctl(argv);
    default:
      throw new StandinError(`no stand-in named ${tool ?? ''}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${message}\n`);
    try {
      note(process.argv[2] ?? '?', `error: ${message}`);
    } catch {
      // the log is best effort
    }
    process.exit(error instanceof StandinError ? error.exitCode : 1);
  },
);
