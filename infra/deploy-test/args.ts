/** `npm run deploy:test -- --name X [--keep] …` argv → a request (pure, unit-tested). */
import { parseArgs } from 'node:util';
import { testStackName, type StackConfig, type TestDeploymentRequest } from './orchestrate';

export const DEPLOY_TEST_USAGE = `usage: npm run deploy:test -- --name X [--keep] [--template test-example]
         [--config KEY=VALUE]... [--secret KEY=VALUE]... [--ca FILE] [--dns-server HOST:PORT]
         [--dnsbl zen.spamhaus.org,...] [--check-attempts 20] [--check-interval 30]`;

export interface DeployTestArgs {
  request: TestDeploymentRequest;
  caFile?: string;
  dnsServer?: string;
  dnsblZones?: string[];
  checkIntervalSeconds: number;
}

export class DeployTestUsageError extends Error {
  override name = 'DeployTestUsageError';
}

function positiveInteger(name: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new DeployTestUsageError(`--${name} must be a positive whole number`);
  return Number(value);
}

/** node:util parseArgs in strict mode, as the mxkit commands (relay/src/commands/contract.ts). */
function parseArgv(argv: readonly string[]) {
  const value = { type: 'string' } as const;
  const options = {
    name: value,
    template: value,
    config: { type: 'string', multiple: true },
    secret: { type: 'string', multiple: true },
    ca: value,
    'dns-server': value,
    dnsbl: value,
    'check-attempts': value,
    'check-interval': value,
    keep: { type: 'boolean' },
  } as const;
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: false, strict: true }).values;
  } catch (error) {
    const { code, message } = error as Error & { code?: string };
    const option = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new DeployTestUsageError(`unknown option ${option}\n${DEPLOY_TEST_USAGE}`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new DeployTestUsageError(`unexpected argument "${/'([^']*)'/.exec(message)?.[1] ?? ''}"\n${DEPLOY_TEST_USAGE}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new DeployTestUsageError(`${option} needs a value`);
    throw new DeployTestUsageError(message);
  }
}

export function parseDeployTestArgs(argv: readonly string[]): DeployTestArgs {
  const values = parseArgv(argv);
  const overrides: StackConfig = {};
  for (const [kind, entries] of [['config', values.config ?? []], ['secret', values.secret ?? []]] as const) {
    for (const entry of entries) {
      const separator = entry.indexOf('=');
      if (separator < 1) throw new DeployTestUsageError(`--${kind} takes KEY=VALUE, e.g. mxkit:domain=t1.example.com`);
      overrides[entry.slice(0, separator)] = { value: entry.slice(separator + 1), secret: kind === 'secret' };
    }
  }
  const single = new Map(Object.entries(values).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  const keep = values.keep === true;
  const name = single.get('name');
  if (name === undefined) throw new DeployTestUsageError(`--name is required\n${DEPLOY_TEST_USAGE}`);
  let stackName: string;
  try {
    stackName = testStackName(name);
  } catch (error) {
    throw new DeployTestUsageError((error as Error).message);
  }
  const dnsbl = single.get('dnsbl');
  return {
    request: {
      stackName,
      template: single.get('template') ?? 'test-example',
      overrides,
      keep,
      checkAttempts: positiveInteger('check-attempts', single.get('check-attempts') ?? '20'),
    },
    caFile: single.get('ca'),
    dnsServer: single.get('dns-server'),
    dnsblZones: dnsbl === undefined ? undefined : dnsbl === 'none' ? [] : dnsbl.split(',').filter(Boolean),
    checkIntervalSeconds: positiveInteger('check-interval', single.get('check-interval') ?? '30'),
  };
}
