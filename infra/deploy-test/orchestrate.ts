/**
 * Throw-away deployments (`npm run deploy:test -- --name X [--keep]`): create stack test-X from a
 * template stack's config with its own mail domain (stack-config.ts) and mxkit:ephemeral=true,
 * `up`, run `mxkit check` against its outputs, print the report, then destroy and remove the stack
 * — in a finally, so a failed `up`, failed checks or Ctrl-C leave nothing behind — unless --keep.
 *
 * Pulumi is behind TestWorkspace/TestStack so this orchestration is unit-tested with an in-memory
 * implementation (no Pulumi CLI on build machines); pulumi-workspace.ts is the real one.
 */
import { formatText } from '../../relay/src/check/report';
import type { CheckReport } from '../../relay/src/check/types';
import { TEST_STACK_PREFIX, testStackConfig, type StackConfig } from './stack-config';

export { TEST_STACK_PREFIX, type ConfigEntry, type StackConfig } from './stack-config';
export type StackOutputs = Record<string, unknown>;

/** One stack. The orchestration calls exactly these four, in this order. */
export interface TestStack {
  readonly name: string;
  /** Stops (cleanly, as Ctrl-C stops the Pulumi CLI) when the signal aborts. */
  up(signal?: AbortSignal): Promise<void>;
  outputs(): Promise<StackOutputs>;
  destroy(): Promise<void>;
  remove(): Promise<void>;
}

export interface TestWorkspace {
  /**
   * Stacks whose config files belong to the project (tracked in git, like the template): never
   * opened, destroyed or removed by deploy:test (`pulumi stack rm` deletes the config file).
   */
  trackedStacks(): Promise<string[]>;
  /** The template stack's config, secrets decrypted (they are re-encrypted for the new stack). */
  templateConfig(template: string): Promise<StackConfig>;
  /** Creates (or selects a leftover of) the stack and writes its config. */
  openStack(name: string, config: StackConfig): Promise<TestStack>;
}

export interface TestDeploymentRequest {
  /** The full stack name; must start with `test-`. */
  stackName: string;
  template: string;
  /** Config given on the command line; wins over the template's. */
  overrides: StackConfig;
  keep: boolean;
  /** How many times to run the checks before giving up: the host boots and gets its certificate after `up` returns. */
  checkAttempts: number;
}

export interface TestDeploymentDeps {
  workspace: TestWorkspace;
  check(outputs: StackOutputs, config: StackConfig): Promise<CheckReport>;
  /** Waits between check attempts (ending early when `signal` aborts); injected so tests never sleep. */
  pause(attempt: number, signal?: AbortSignal): Promise<void>;
  log(line: string): void;
  /** Ctrl-C: stop what runs (up, checks) and go straight to the cleanup. */
  signal?: AbortSignal;
}

export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

export class StackGuardError extends Error {
  override name = 'StackGuardError';
}

/** The one rule that keeps this tool away from dev and prod: it only ever touches test-* stacks. */
export function assertTestStack(name: string): void {
  if (!name.startsWith(TEST_STACK_PREFIX) || name.length === TEST_STACK_PREFIX.length) {
    throw new StackGuardError(`refusing to touch stack "${name}": deploy:test only creates and destroys stacks named ${TEST_STACK_PREFIX}<name>`);
  }
}

/** `--name X` → `test-X` (an already prefixed name is taken as is). X also labels the stack's mail domain. */
export function testStackName(name: string): string {
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i.test(name)) throw new Error(`--name "${name}" must be letters, digits and dashes`);
  const stack = name.startsWith(TEST_STACK_PREFIX) ? name : `${TEST_STACK_PREFIX}${name}`;
  // RFC 1035 §2.3.4: a DNS label is at most 63 octets.
  if (stack.length - TEST_STACK_PREFIX.length > 63) throw new Error(`--name "${name}" must be at most 63 characters: it becomes a DNS label`);
  return stack;
}

/** Never a stack whose config file the project tracks: the template itself above all. */
export function assertNotTracked(name: string, tracked: readonly string[], template: string): void {
  if (name === template || tracked.includes(name)) {
    throw new StackGuardError(
      `refusing to use stack "${name}": stacks/Pulumi.${name}.yaml is ${name === template ? 'the template' : 'tracked in git'}, and removing the stack would delete it; choose another --name`,
    );
  }
}

function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError('interrupted');
}

/** Runs the checks until they pass or the attempts are used up; returns the last report. */
async function checkUntilPassing(outputs: StackOutputs, config: StackConfig, attempts: number, deps: TestDeploymentDeps): Promise<CheckReport> {
  for (let attempt = 1; ; attempt++) {
    throwIfInterrupted(deps.signal);
    const report = await deps.check(outputs, config);
    if (report.ok || attempt >= attempts) return report;
    deps.log(`checks: ${report.summary.fail} failing (attempt ${attempt}/${attempts}); the host may still be booting, trying again`);
    await deps.pause(attempt, deps.signal);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Destroy, then remove. Destroy first and only then remove: removing a stack whose resources
 * still exist would orphan them (no state left to destroy them from).
 */
async function tearDown(stack: TestStack, tracked: readonly string[], template: string, deps: TestDeploymentDeps): Promise<void> {
  assertTestStack(stack.name);
  assertNotTracked(stack.name, tracked, template);
  deps.log(`destroying ${stack.name}`);
  try {
    await stack.destroy();
  } catch (error) {
    throw new Error(`destroy of ${stack.name} failed, resources may remain: run \`pulumi destroy --stack ${stack.name}\` then \`pulumi stack rm ${stack.name}\` (${describe(error)})`);
  }
  await stack.remove();
  deps.log(`removed ${stack.name}`);
}

/** Returns the exit code: 0 when every check passed, 1 when any failed. Throws when up or cleanup fails. */
export async function runTestDeployment(request: TestDeploymentRequest, deps: TestDeploymentDeps): Promise<number> {
  // Before anything is created: a wrong name must not even get as far as `up`.
  assertTestStack(request.stackName);
  const tracked = await deps.workspace.trackedStacks();
  assertNotTracked(request.stackName, tracked, request.template);
  const config = testStackConfig(await deps.workspace.templateConfig(request.template), request.overrides, request.stackName);
  const stack = await deps.workspace.openStack(request.stackName, config);
  let failure: unknown;
  let cleanupFailure: unknown;
  let code = 1;
  try {
    deps.log(`pulumi up ${stack.name} (mail domain ${config['mxkit:domain']?.value ?? '?'})`);
    throwIfInterrupted(deps.signal);
    await stack.up(deps.signal);
    throwIfInterrupted(deps.signal);
    const outputs = await stack.outputs();
    const report = await checkUntilPassing(outputs, config, request.checkAttempts, deps);
    deps.log(formatText(report).trimEnd());
    code = report.ok ? 0 : 1;
  } catch (error) {
    // An up cut short by Ctrl-C fails with the CLI's own words; say what happened instead.
    failure = deps.signal?.aborted ? new InterruptedError(`interrupted during ${stack.name}`) : error;
  } finally {
    if (request.keep) {
      deps.log(`--keep: ${stack.name} is still up; remove it with \`pulumi destroy --stack ${stack.name} && pulumi stack rm ${stack.name}\``);
    } else {
      cleanupFailure = await tearDown(stack, tracked, request.template, deps).then(
        () => undefined,
        (error: unknown) => error ?? new Error('cleanup failed'),
      );
    }
  }
  // Both matter: why the run failed, and that something may be left behind.
  if (failure !== undefined && cleanupFailure !== undefined) {
    throw new AggregateError([failure, cleanupFailure], `${describe(failure)}; and cleanup failed: ${describe(cleanupFailure)}`);
  }
  if (cleanupFailure !== undefined) throw cleanupFailure;
  if (failure !== undefined) throw failure;
  return code;
}
