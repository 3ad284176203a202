/**
 * An in-memory TestWorkspace for the deploy:test orchestration: records every call in order and
 * fails on request, so tests can assert the sequence, the cleanup and the name guard.
 */
import type { StackConfig, StackOutputs, TestStack, TestWorkspace } from '../../infra/deploy-test/orchestrate';

export type Step = 'templateConfig' | 'openStack' | 'up' | 'outputs' | 'destroy' | 'remove';

export interface InMemoryOptions {
  template?: StackConfig;
  outputs?: StackOutputs;
  /** Steps that throw. */
  failing?: Step[];
  /** What openStack names the stack it returns (a misbehaving workspace); default the name asked for. */
  renameTo?: string;
  /** Stacks whose config files the project tracks; default the template's. */
  tracked?: string[];
  /** Runs during `up` (e.g. a Ctrl-C); `up` then fails the way the CLI does when cancelled. */
  duringUp?: () => void;
}

export class InMemoryWorkspace implements TestWorkspace {
  readonly calls: string[] = [];
  /** Config the stack was opened with. */
  config: StackConfig | undefined;
  /** Stacks that exist: created by openStack, gone after remove. */
  readonly stacks = new Set<string>();

  constructor(private readonly options: InMemoryOptions = {}) {}

  private step(step: Step, detail: string): void {
    this.calls.push(`${step} ${detail}`);
    if (this.options.failing?.includes(step)) throw new Error(`${step} failed (in-memory)`);
  }

  async trackedStacks(): Promise<string[]> {
    return this.options.tracked ?? ['dev', 'prod', 'test-example'];
  }

  async templateConfig(template: string): Promise<StackConfig> {
    this.step('templateConfig', template);
    return this.options.template ?? {};
  }

  async openStack(name: string, config: StackConfig): Promise<TestStack> {
    this.step('openStack', name);
    const stackName = this.options.renameTo ?? name;
    this.config = config;
    this.stacks.add(stackName);
    return {
      name: stackName,
      up: async (signal) => {
        this.step('up', stackName);
        this.options.duringUp?.();
        if (signal?.aborted) throw new Error('update canceled');
      },
      outputs: async () => {
        this.step('outputs', stackName);
        return this.options.outputs ?? { hostname: 'mail.t1.example.com', publicIp: '203.0.113.10', dkimSelector: 'mx1' };
      },
      destroy: async () => this.step('destroy', stackName),
      remove: async () => {
        this.step('remove', stackName);
        this.stacks.delete(stackName);
      },
    };
  }
}
