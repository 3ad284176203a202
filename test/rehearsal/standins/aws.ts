/**
 * `aws` stand-in: the two calls mxkit-prepare makes, answered from what the mocks recorded
 * (SSM parameters, the S3 bundle object), after the same IAM check AWS would make.
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { isAllowed } from './iam';
import { note, StandinError } from './log';
import { S3_DIR, WORLD_FILE, type StandinWorld } from './paths';

function options(argv: readonly string[], flags: readonly string[], valued: readonly string[]): { values: Map<string, string>; flags: Set<string>; positionals: string[] } {
  const values = new Map<string, string>();
  const seen = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (valued.includes(arg)) values.set(arg, argv[++i] ?? '');
    else if (flags.includes(arg)) seen.add(arg);
    else if (arg.startsWith('--')) throw new StandinError(`aws stand-in: option ${arg} is not emulated`, 252);
    else positionals.push(arg);
  }
  return { values, flags: seen, positionals };
}

function denied(world: StandinWorld, action: string, resource: string): never {
  note('aws', `DENIED ${action} on ${resource} by the instance role's policy`);
  throw new StandinError(`An error occurred (AccessDenied) when calling the ${action} operation: the instance role is not authorized to perform: ${action} on resource: ${resource}`, 254);
}

function getParameter(world: StandinWorld, argv: readonly string[]): void {
  const { values, flags } = options(argv, ['--with-decryption'], ['--region', '--name', '--query', '--output']);
  const name = values.get('--name') ?? '';
  if (values.get('--region') !== world.region) throw new StandinError(`aws stand-in: the stack is in ${world.region}, not ${values.get('--region') ?? '(no --region)'}`, 252);
  if (values.get('--query') !== 'Parameter.Value' || values.get('--output') !== 'text') throw new StandinError('aws stand-in: only --query Parameter.Value --output text is emulated', 252);
  const arn = `arn:aws:ssm:${world.region}:${world.account}:parameter${name}`;
  if (!isAllowed(world.instancePolicy, 'ssm:GetParameter', arn)) denied(world, 'ssm:GetParameter', arn);
  const value = world.ssm[name];
  if (value === undefined) throw new StandinError(`An error occurred (ParameterNotFound) when calling the GetParameter operation: ${name}`, 254);
  if (!flags.has('--with-decryption')) throw new StandinError('aws stand-in: a SecureString without --with-decryption is ciphertext', 252);
  note('aws', `ssm get-parameter ${name} → ${value.length} characters, from the mocks' aws.ssm.Parameter`);
  // The CLI's text output ends with a newline.
  process.stdout.write(`${value}\n`);
}

function copyObject(world: StandinWorld, argv: readonly string[]): void {
  const { values, positionals } = options(argv, ['--only-show-errors'], ['--region']);
  const [source, target] = positionals;
  if (values.get('--region') !== world.region) throw new StandinError(`aws stand-in: the stack is in ${world.region}`, 252);
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(source ?? '');
  if (!match || !target) throw new StandinError('aws stand-in: only `s3 cp s3://BUCKET/KEY FILE` is emulated', 252);
  const arn = `arn:aws:s3:::${match[1]}/${match[2]}`;
  if (!isAllowed(world.instancePolicy, 's3:GetObject', arn)) denied(world, 's3:GetObject', arn);
  const file = world.s3[source];
  if (file === undefined || !existsSync(`${S3_DIR}/${file}`)) {
    note('aws', `s3 cp ${source}: no such object`);
    throw new StandinError(`fatal error: An error occurred (404) when calling the HeadObject operation: Key "${match[2]}" does not exist`, 1);
  }
  copyFileSync(`${S3_DIR}/${file}`, target);
  note('aws', `s3 cp ${source} → ${target}, the mocks' aws.s3.BucketObjectv2 source`);
}

export function runAws(argv: readonly string[]): number {
  const world = JSON.parse(readFileSync(WORLD_FILE, 'utf8')) as StandinWorld;
  const [service, command, ...rest] = argv;
  if (service === 'ssm' && command === 'get-parameter') getParameter(world, rest);
  else if (service === 's3' && command === 'cp') copyObject(world, rest);
  else throw new StandinError(`aws stand-in: "aws ${service ?? ''} ${command ?? ''}" is not emulated`, 252);
  return 0;
}
