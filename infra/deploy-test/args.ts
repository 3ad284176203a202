/** `npm run deploy:test -- --name X [--keep] …` argv → a request (pure, unit-tested). */
import { testStackName, type StackConfig, type TestDeploymentRequest } from './orchestrate';

export const DEPLOY_TEST_USAGE = `usage: npm run deploy:test -- --name X [--keep] [--template test-example]
         [--config KEY=VALUE]... [--secret KEY=VALUE]... [--ca FILE] [--dns-server HOST:PORT]
         [--dnsbl zen.spamhaus.org,...] [--check-attempts 20] [--check-interval 30]`;

const VALUE_OPTIONS = ['name', 'template', 'config', 'secret', 'ca', 'dns-server', 'dnsbl', 'check-attempts', 'check-interval'];

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

export function parseDeployTestArgs(argv: readonly string[]): DeployTestArgs {
  const overrides: StackConfig = {};
  const single = new Map<string, string>();
  let keep = false;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === '--keep') {
      keep = true;
      continue;
    }
    if (!argument.startsWith('--')) throw new DeployTestUsageError(`unexpected argument "${argument}"\n${DEPLOY_TEST_USAGE}`);
    const name = argument.slice(2);
    if (!VALUE_OPTIONS.includes(name)) throw new DeployTestUsageError(`unknown option --${name}\n${DEPLOY_TEST_USAGE}`);
    const value = argv[++index];
    if (value === undefined) throw new DeployTestUsageError(`--${name} needs a value`);
    if (name === 'config' || name === 'secret') {
      const separator = value.indexOf('=');
      if (separator < 1) throw new DeployTestUsageError(`--${name} takes KEY=VALUE, e.g. mxkit:domain=t1.example.com`);
      overrides[value.slice(0, separator)] = { value: value.slice(separator + 1), secret: name === 'secret' };
    } else {
      single.set(name, value);
    }
  }
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
