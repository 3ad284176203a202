/**
 * Entry point of `npm run deploy:test` (bundled by esbuild with @pulumi external, then run by
 * node): wires the real Pulumi workspace and the real checks into the orchestration.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { runChecks } from '../../relay/src/check/run-checks';
import { DeployTestUsageError, parseDeployTestArgs } from './args';
import { checkOptionsFor } from './check-options';
import { abortOnInterrupt, INTERRUPTED_EXIT_CODE } from './interrupt';
import { InterruptedError, runTestDeployment } from './orchestrate';
import { pulumiWorkspace } from './pulumi-workspace';

async function main(argv: string[]): Promise<number> {
  const args = parseDeployTestArgs(argv);
  const ca = args.caFile === undefined ? undefined : readFileSync(args.caFile, 'utf8');
  // The bundle runs from dist/; the Pulumi project (Pulumi.yaml) is the repository root.
  const workDir = resolve(__dirname, '..');
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const signal = abortOnInterrupt(process, args.request.stackName, log);
  const workspace = await pulumiWorkspace(workDir, (text) => process.stdout.write(text));
  return runTestDeployment(args.request, {
    workspace,
    check: (outputs, config) => runChecks(checkOptionsFor(outputs, config, { ca, dnsServer: args.dnsServer, dnsblZones: args.dnsblZones })),
    pause: (_attempt, abort) => delay(args.checkIntervalSeconds * 1000, undefined, { signal: abort }),
    log,
    signal,
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    // The Automation API drives the pulumi CLI; say so plainly instead of a spawn stack trace.
    const hint = /spawn pulumi ENOENT/.test(message) ? 'the Pulumi CLI is not installed or not on PATH (https://www.pulumi.com/docs/install/)' : message;
    process.stderr.write(`deploy:test: ${hint}\n`);
    process.exit(error instanceof DeployTestUsageError ? 64 : error instanceof InterruptedError ? INTERRUPTED_EXIT_CODE : 1);
  },
);
