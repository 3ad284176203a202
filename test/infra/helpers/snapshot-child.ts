/**
 * Runs the Pulumi program under mocks in a process of its own (the Pulumi runtime is process-global:
 * one program run per process) and prints every registered resource as JSON, so a test can compare
 * two runs with different config — what `pulumi up` would change between them.
 * `node scripts/run-ts.mjs test/infra/helpers/snapshot-child.ts STACK '{"mxkit:hosts":"2"}'`
 */
import * as pulumi from '@pulumi/pulumi';
import { runProgram, type ProgramModule } from './stack';

export interface SnapshotResource {
  urn: string;
  type: string;
  name: string;
  parent: string;
  /** Inputs with secrets unwrapped and assets reduced to a marker. */
  inputs: Record<string, unknown>;
  dependencies: string[];
  aliases: string[];
  protect: boolean;
  retainOnDelete: boolean;
}

export interface Snapshot {
  resources: SnapshotResource[];
  outputs: Record<string, unknown>;
}

function jsonSafe(value: unknown): unknown {
  if (value instanceof pulumi.asset.Asset) return 'asset';
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, jsonSafe(inner)]));
  return value;
}

async function main(): Promise<void> {
  const [stack, overridesText] = process.argv.slice(2);
  const overrides = JSON.parse(overridesText ?? '{}') as Record<string, string>;
  const run = await runProgram(stack, overrides, {}, async () => (await import('../../../infra/index.js')) as unknown as ProgramModule);
  const snapshot: Snapshot = {
    resources: run.resources.map((r) => ({
      urn: r.urn,
      type: r.type,
      name: r.name,
      parent: r.parent,
      inputs: jsonSafe(r.plain) as Record<string, unknown>,
      dependencies: r.dependencies,
      aliases: r.aliases,
      protect: r.protect,
      retainOnDelete: r.retainOnDelete,
    })),
    outputs: Object.fromEntries(Object.entries(run.outputs).map(([name, output]) => [name, jsonSafe(output.value)])),
  };
  process.stdout.write(`${JSON.stringify(snapshot)}\n`);
  process.exit(0);
}

void main();
