import { InterruptedError, runTestDeployment, StackGuardError, type TestDeploymentDeps, type TestDeploymentRequest } from '../../infra/deploy-test/orchestrate';
import { summarise } from '../../relay/src/check/report';
import { fail, pass, type CheckReport } from '../../relay/src/check/types';
import { InMemoryWorkspace } from './in-memory-workspace';

const passing = (): CheckReport => summarise('t1.example.com', 'mail.t1.example.com', ['203.0.113.10'], [pass('dns.mx', 'dns', 'MX of t1.example.com is mail.t1.example.com')]);
const failing = (): CheckReport =>
  summarise('t1.example.com', 'mail.t1.example.com', ['203.0.113.10'], [
    fail('dns.ptr.203.0.113.10', 'dns', '203.0.113.10 has no PTR record', 'set PTR of 203.0.113.10 to mail.t1.example.com: pulumi up sets it once the A record exists'),
  ]);

function request(overrides: Partial<TestDeploymentRequest> = {}): TestDeploymentRequest {
  return { stackName: 'test-t1', template: 'test-example', overrides: {}, keep: false, checkAttempts: 1, ...overrides };
}

/** Deps whose checks return `reports` in turn (the last one repeats); every step lands in workspace.calls. */
function deps(workspace: InMemoryWorkspace, reports: Array<CheckReport | Error> = [passing()], signal?: AbortSignal) {
  const lines: string[] = [];
  let index = 0;
  const value: TestDeploymentDeps = {
    workspace,
    async check(outputs) {
      workspace.calls.push(`check ${String(outputs.hostname)}`);
      const next = reports[Math.min(index++, reports.length - 1)];
      if (next instanceof Error) throw next;
      return next;
    },
    async pause(attempt) {
      workspace.calls.push(`pause ${attempt}`);
    },
    log: (line) => lines.push(line),
    signal,
  };
  return { deps: value, lines };
}

describe('deploy:test orchestration', () => {
  test('creates the stack, ups it, checks its outputs, prints the report, then destroys and removes it', async () => {
    const workspace = new InMemoryWorkspace();
    const { deps: d, lines } = deps(workspace);
    await expect(runTestDeployment(request(), d)).resolves.toBe(0);
    expect(workspace.calls).toEqual([
      'templateConfig test-example',
      'openStack test-t1',
      'up test-t1',
      'outputs test-t1',
      'check mail.t1.example.com',
      'destroy test-t1',
      'remove test-t1',
    ]);
    expect(lines).toContainEqual(expect.stringContaining('PASS dns.mx'));
    expect(workspace.stacks.size).toBe(0);
  });

  test('the stack gets the template config, the overrides on top, and mxkit:ephemeral=true whatever was given', async () => {
    const workspace = new InMemoryWorkspace({
      template: { 'mxkit:domain': { value: 'test.example.com' }, 'cloudflare:apiToken': { value: 't0ken', secret: true }, 'mxkit:ephemeral': { value: 'false' } },
    });
    await runTestDeployment(request({ overrides: { 'mxkit:domain': { value: 't1.example.com' }, 'mxkit:ephemeral': { value: 'false' } } }), deps(workspace).deps);
    expect(workspace.config).toEqual({
      'mxkit:domain': { value: 't1.example.com' },
      'cloudflare:apiToken': { value: 't0ken', secret: true },
      'mxkit:ephemeral': { value: 'true' },
    });
  });

  test('a failed up still destroys and removes the stack, and the up error is what the run fails with', async () => {
    const workspace = new InMemoryWorkspace({ failing: ['up'] });
    await expect(runTestDeployment(request(), deps(workspace).deps)).rejects.toThrow('up failed (in-memory)');
    expect(workspace.calls).toEqual(['templateConfig test-example', 'openStack test-t1', 'up test-t1', 'destroy test-t1', 'remove test-t1']);
  });

  test('failing checks exit 1 and still clean up', async () => {
    const workspace = new InMemoryWorkspace();
    const { deps: d, lines } = deps(workspace, [failing()]);
    await expect(runTestDeployment(request(), d)).resolves.toBe(1);
    expect(workspace.calls.slice(-2)).toEqual(['destroy test-t1', 'remove test-t1']);
    expect(lines).toContainEqual(expect.stringContaining('FAIL dns.ptr.203.0.113.10  203.0.113.10 has no PTR record — fix: set PTR of 203.0.113.10'));
  });

  test('checks that throw still clean up, and the error surfaces', async () => {
    const workspace = new InMemoryWorkspace();
    await expect(runTestDeployment(request(), deps(workspace, [new Error('checks crashed')]).deps)).rejects.toThrow('checks crashed');
    expect(workspace.calls.slice(-2)).toEqual(['destroy test-t1', 'remove test-t1']);
  });

  test('checks are retried while the host boots, pausing between attempts, until they pass', async () => {
    const workspace = new InMemoryWorkspace();
    await expect(runTestDeployment(request({ checkAttempts: 5 }), deps(workspace, [failing(), failing(), passing()]).deps)).resolves.toBe(0);
    expect(workspace.calls.slice(4)).toEqual(['check mail.t1.example.com', 'pause 1', 'check mail.t1.example.com', 'pause 2', 'check mail.t1.example.com', 'destroy test-t1', 'remove test-t1']);
  });

  test('checks stop after the last attempt and the run fails', async () => {
    const workspace = new InMemoryWorkspace();
    await expect(runTestDeployment(request({ checkAttempts: 2 }), deps(workspace, [failing()]).deps)).resolves.toBe(1);
    expect(workspace.calls.filter((call) => call.startsWith('check'))).toHaveLength(2);
    expect(workspace.calls.filter((call) => call.startsWith('pause'))).toEqual(['pause 1']);
  });

  test('--keep leaves the stack up and says how to remove it', async () => {
    const workspace = new InMemoryWorkspace();
    const { deps: d, lines } = deps(workspace);
    await expect(runTestDeployment(request({ keep: true }), d)).resolves.toBe(0);
    expect(workspace.calls).not.toContainEqual(expect.stringMatching(/^(destroy|remove)/));
    expect(workspace.stacks.has('test-t1')).toBe(true);
    expect(lines.at(-1)).toBe('--keep: test-t1 is still up; remove it with `pulumi destroy --stack test-t1 && pulumi stack rm test-t1`');
  });

  test('a failed destroy does not remove the stack (its state is needed to destroy what remains) and says what to run', async () => {
    const workspace = new InMemoryWorkspace({ failing: ['destroy'] });
    await expect(runTestDeployment(request(), deps(workspace).deps)).rejects.toThrow(
      'destroy of test-t1 failed, resources may remain: run `pulumi destroy --stack test-t1` then `pulumi stack rm test-t1` (destroy failed (in-memory))',
    );
    expect(workspace.calls).not.toContain('remove test-t1');
  });

  test('when up and destroy both fail, both errors are reported', async () => {
    const workspace = new InMemoryWorkspace({ failing: ['up', 'destroy'] });
    const error: unknown = await runTestDeployment(request(), deps(workspace).deps).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).message).toMatch(/^up failed \(in-memory\); and cleanup failed: destroy of test-t1 failed/);
  });
});

describe('deploy:test interrupted with Ctrl-C', () => {
  test('during up: the up stops, the stack is still destroyed and removed, and the run fails as interrupted', async () => {
    const controller = new AbortController();
    const workspace = new InMemoryWorkspace({ duringUp: () => controller.abort() });
    await expect(runTestDeployment(request(), deps(workspace, [passing()], controller.signal).deps)).rejects.toThrow(InterruptedError);
    expect(workspace.calls).toEqual(['templateConfig test-example', 'openStack test-t1', 'up test-t1', 'destroy test-t1', 'remove test-t1']);
    expect(workspace.stacks.size).toBe(0);
  });

  test('while the checks wait for the host: no further attempt, straight to the cleanup', async () => {
    const controller = new AbortController();
    const workspace = new InMemoryWorkspace();
    const { deps: d } = deps(workspace, [failing()], controller.signal);
    d.pause = async (attempt) => {
      workspace.calls.push(`pause ${attempt}`);
      controller.abort();
    };
    await expect(runTestDeployment(request({ checkAttempts: 5 }), d)).rejects.toThrow(InterruptedError);
    expect(workspace.calls.slice(4)).toEqual(['check mail.t1.example.com', 'pause 1', 'destroy test-t1', 'remove test-t1']);
  });
});

describe('deploy:test never uses a stack whose config file the project tracks', () => {
  test('--name example (stack test-example, the template) is refused before anything is created', async () => {
    const workspace = new InMemoryWorkspace();
    await expect(runTestDeployment(request({ stackName: 'test-example' }), deps(workspace).deps)).rejects.toThrow(
      'refusing to use stack "test-example": stacks/Pulumi.test-example.yaml is the template, and removing the stack would delete it; choose another --name',
    );
    expect(workspace.calls).toEqual([]);
  });

  test('another tracked test-* stack is refused too', async () => {
    const workspace = new InMemoryWorkspace({ tracked: ['test-example', 'test-shared'] });
    await expect(runTestDeployment(request({ stackName: 'test-shared' }), deps(workspace).deps)).rejects.toThrow('stacks/Pulumi.test-shared.yaml is tracked in git');
    expect(workspace.calls).toEqual([]);
  });
});

describe('deploy:test refuses to touch stacks not named test-*', () => {
  test.each(['prod', 'dev', 'testing', 'test-', 'Test-x'])('a request for stack "%s" is refused before anything is created', async (name) => {
    const workspace = new InMemoryWorkspace();
    await expect(runTestDeployment(request({ stackName: name }), deps(workspace).deps)).rejects.toThrow(StackGuardError);
    expect(workspace.calls).toEqual([]);
  });

  test('a workspace that hands back a non-test stack gets no destroy or remove for it', async () => {
    const workspace = new InMemoryWorkspace({ renameTo: 'prod' });
    await expect(runTestDeployment(request(), deps(workspace).deps)).rejects.toThrow('refusing to touch stack "prod"');
    expect(workspace.calls).not.toContainEqual(expect.stringMatching(/^(destroy|remove)/));
  });
});
