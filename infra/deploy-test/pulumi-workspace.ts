/**
 * The real TestWorkspace: Pulumi Automation API, LocalWorkspace on this project (Pulumi.yaml at
 * the repository root, stack config files in stacks/). Needs the Pulumi CLI and a logged-in backend.
 */
import { LocalWorkspace, Stack, type ConfigMap } from '@pulumi/pulumi/automation';
import { assertTestStack, type StackConfig, type StackOutputs, type TestStack, type TestWorkspace } from './orchestrate';

export async function pulumiWorkspace(workDir: string, onOutput: (text: string) => void): Promise<TestWorkspace> {
  const workspace = await LocalWorkspace.create({ workDir });
  return {
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
    async up() {
      await stack.up({ onOutput });
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
