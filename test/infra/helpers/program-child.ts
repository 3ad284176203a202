/**
 * Runs the Pulumi program under mocks in a process of its own and prints what happened as JSON:
 * for runs that are meant to fail. The Pulumi runtime reports a failed resource input as an
 * unhandled rejection (that is how `pulumi up` learns of it); inside jest those would fail the
 * runner itself, so such runs happen here.
 * `node scripts/run-ts.mjs test/infra/helpers/program-child.ts STACK '{"mockOptions":…}'`
 */
import type { MockOptions, MockRun } from './mocks';
import { runProgram, type ProgramModule } from './stack';

interface ChildRequest {
  overrides?: Record<string, string>;
  mockOptions?: MockOptions;
}

export interface ChildReport {
  failures: string[];
  registered: Array<{ type: string; name: string }>;
  error?: string;
}

async function main(): Promise<void> {
  const [stack, requestText] = process.argv.slice(2);
  const request = JSON.parse(requestText ?? '{}') as ChildRequest;
  const failures: string[] = [];
  const collect = (error: unknown) => void failures.push(error instanceof Error ? error.message : String(error));
  process.on('unhandledRejection', collect);
  process.on('uncaughtException', collect);
  const report: ChildReport = { failures, registered: [] };
  let run: MockRun | undefined;
  const finish = () => {
    report.registered = (run?.resources ?? []).map((r) => ({ type: r.type, name: r.name }));
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  };
  // A failing program never settles (registrations whose inputs failed stay unanswered): it is
  // done when nothing is left to run, which is when Node would exit.
  process.once('beforeExit', finish);
  try {
    await runProgram(stack, request.overrides, request.mockOptions, async () => (await import('../../../infra/index.js')) as unknown as ProgramModule, (mocks) => (run = mocks));
  } catch (error) {
    report.error = error instanceof Error ? error.message : String(error);
  }
  finish();
}

void main();
