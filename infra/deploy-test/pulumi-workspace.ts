/**
 * The real TestWorkspace: Pulumi Automation API, LocalWorkspace on this project (Pulumi.yaml at
 * the repository root, stack config files in stacks/). Needs the Pulumi CLI and a logged-in backend.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LocalWorkspace, Stack, type ConfigMap } from '@pulumi/pulumi/automation';
import { assertTestStack, type StackConfig, type StackOutputs, type TestStack, type TestWorkspace } from './orchestrate';

export async function pulumiWorkspace(workDir: string, onOutput: (text: string) => void): Promise<TestWorkspace> {
  const workspace = await LocalWorkspace.create({ workDir });
  return {
    async trackedStacks() {
      return trackedStackNames(workDir);
    },
    // `pulumi config --show-secrets` of the template: secrets come back in clear and are written
    // to the new stack as secrets again, encrypted with its own key.
    async templateConfig(template) {
      const config: ConfigMap = await workspace.getAllConfig(template);
      return Object.fromEntries(Object.entries(config).map(([key, entry]) => [key, { value: entry.value, secret: entry.secret }]));
    },
    async openStack(name, config: StackConfig) {
      assertTestStack(name);
      // createOrSelect: a stack left by an earlier --keep run (or a crash) is reused and then cleaned.
      const stack = await Stack.createOrSelect(name, workspace);
      try {
        await stack.setAllConfig(config);
      } catch (error) {
        // Nothing deployed yet: remove the empty stack so a config error leaves nothing behind.
        await workspace.removeStack(name).catch(() => undefined);
        throw error;
      }
      return pulumiStack(stack, workspace, onOutput);
    },
  };
}

function pulumiStack(stack: Stack, workspace: LocalWorkspace, onOutput: (text: string) => void): TestStack {
  return {
    name: stack.name,
    async up(signal) {
      // The signal makes the CLI cancel the way Ctrl-C does: in-flight operations finish and the
      // state stays consistent, so the destroy that follows sees everything that was created.
      await stack.up({ onOutput, signal });
    },
    async outputs(): Promise<StackOutputs> {
      const outputs = await stack.outputs();
      return Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value as unknown]));
    },
    async destroy() {
      // Checked again here, not only by the orchestration: this is the call that deletes things.
      assertTestStack(stack.name);
      await stack.destroy({ onOutput });
    },
    async remove() {
      assertTestStack(stack.name);
      await workspace.removeStack(stack.name);
    },
  };
}

const STACK_FILE = /^Pulumi\.(.+)\.yaml$/;

/**
 * Stack names whose stacks/Pulumi.<name>.yaml git tracks. Without git, every stack file present
 * counts: refusing a leftover test stack is better than deleting a template.
 */
export function trackedStackNames(workDir: string): string[] {
  let files: string[];
  try {
    files = execFileSync('git', ['ls-files', '-z', '--', 'stacks'], { cwd: workDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\0')
      .filter(Boolean)
      .map((file) => file.replace(/^stacks\//, ''));
  } catch {
    files = readdirSync(join(workDir, 'stacks'));
  }
  return files.flatMap((file) => STACK_FILE.exec(file)?.[1] ?? []);
}
