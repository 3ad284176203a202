/**
 * Step 1 of the rehearsal: run the real Pulumi program (infra/index.ts) under mocks for a stack and
 * keep what a real `pulumi up` would have put in the cloud: the SSM parameters, the S3 bundle
 * object, the instance's user data and role policy, the Cloudflare records, the PTR. Everything
 * later steps do comes from here; nothing is made up beside it.
 */
import { randomBytes } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import type { DnsRecord, RecordType } from '../../infra/builders/records';
import { hashPassword } from '../../relay/src/intake/password';
import { reverseName } from '../../relay/src/check/dns-client';
import type { PtrRecord } from '../../relay/src/local/reverse-zone';
import { MOCK_REGION } from '../infra/helpers/mocks';
import { loadStackConfig, runProgram, withTestSecrets, type ProgramModule, type ProgramRun } from '../infra/helpers/stack';
import type { StandinWorld } from './standins/paths';

export const MOCK_ACCOUNT = '123456789012';

export interface RehearsalWorld {
  stack: string;
  standin: StandinWorld;
  /** S3 object file name (as in standin.s3) → the file the mocks' FileAsset pointed at. */
  s3Sources: Record<string, string>;
  userData: string;
  publicIp: string;
  hostname: string;
  domain: string;
  dkimSelector: string;
  /** The records the mocks recorded for Cloudflare, as a DNS server serves them. */
  records: DnsRecord[];
  ptrs: PtrRecord[];
  /** The stack's SMTP user, with the password whose hash went into mxkit:users. */
  user: { username: string; password: string; address: string };
  /** The TLS certificate (tls.crt parameter): what clients trust for a self-signed stack. */
  caPem: string;
  /** Ports the security group keeps closed that `mxkit check` checks (22 unless mxkit:sshCidr). */
  closedPorts: number[];
  /** The config push (components/config-push.ts): the commands its SSM document runs on the instance. */
  configPush: { commands: string[]; configParameter: string };
}

const of = (run: ProgramRun, type: string) => run.resources.filter((r) => r.type === type);

function txtValue(content: string): string {
  const strings = [...content.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, '$1'));
  return strings.length ? strings.join('') : content;
}

/** A recorded cloudflare.DnsRecord (inputs) as the DNS answers it. */
function servedRecord(inputs: Record<string, unknown>): DnsRecord {
  const type = String(inputs.type) as RecordType;
  const name = String(inputs.name);
  const content = String(inputs.content ?? '');
  const caa = type === 'CAA' ? (inputs.data as DnsRecord['caa']) : undefined;
  return {
    key: `${type} ${name}`,
    type,
    name,
    value: type === 'TXT' ? txtValue(content) : type === 'CAA' ? `${caa?.flags ?? 0} ${caa?.tag ?? 'issue'} "${caa?.value ?? ''}"` : content,
    content,
    ttl: Number(inputs.ttl),
    ...(inputs.priority !== undefined ? { priority: Number(inputs.priority) } : {}),
    ...(caa ? { caa } : {}),
  };
}

export async function rehearsalWorld(stack: string, bundlePath: string, overrides: Record<string, string> = {}): Promise<RehearsalWorld> {
  const password = randomBytes(12).toString('base64url');
  const config = { ...withTestSecrets(loadStackConfig(stack)), ...overrides };
  const domain = config['mxkit:domain'];
  const user = { username: 'app', password, address: `app@${domain}` };
  const users = JSON.stringify([{ username: user.username, passwordHash: await hashPassword(password), allowedFrom: [`*@${domain}`] }]);
  const run = await runProgram(stack, { ...overrides, 'mxkit:bundlePath': bundlePath, 'mxkit:users': users }, {}, async () => (await import('../../infra/index.js')) as unknown as ProgramModule);

  const ssm = Object.fromEntries(of(run, 'aws:ssm/parameter:Parameter').map((p) => [String(p.plain.name), String(p.plain.value)]));
  const s3: Record<string, string> = {};
  const s3Sources: Record<string, string> = {};
  for (const [index, object] of of(run, 'aws:s3/bucketObjectv2:BucketObjectv2').entries()) {
    const source = object.plain.source;
    if (!(source instanceof pulumi.asset.FileAsset)) throw new Error('the bundle object is not a file asset');
    const file = `object-${index}`;
    s3[`s3://${String(object.plain.bucket)}/${String(object.plain.key)}`] = file;
    s3Sources[file] = await source.path;
  }
  const [instance] = of(run, 'aws:ec2/instance:Instance');
  const [policy] = of(run, 'aws:iam/rolePolicy:RolePolicy');
  const publicIp = String(run.outputs.publicIp.value);
  const hostname = String(run.outputs.hostname.value);
  const ptrs: PtrRecord[] = of(run, 'aws:ec2/eipDomainName:EipDomainName').map((ptr) => ({ type: 'PTR', name: reverseName(publicIp, 'in-addr.arpa'), value: String(ptr.plain.domainName), ttl: 3600 }));
  const [document] = of(run, 'aws:ssm/document:Document');
  if (!document) throw new Error('the program made no SSM document for the config push');
  const commands = (JSON.parse(String(document.plain.content)) as { mainSteps: Array<{ inputs: { runCommand: string[] } }> }).mainSteps.flatMap((step) => step.inputs.runCommand);
  const configParameter = Object.keys(ssm).find((name) => name.endsWith('/relay.json'));
  if (!configParameter) throw new Error('the program stored no relay.json parameter');
  const tlsCert = Object.entries(ssm).find(([name]) => name.endsWith('/tls.crt'))?.[1];
  if (!tlsCert) throw new Error(`stack ${stack} has no self-signed certificate (tls.crt): the rehearsal needs mxkit:tls self-signed (no ACME CA is reachable here)`);
  return {
    stack,
    standin: { region: MOCK_REGION, account: MOCK_ACCOUNT, ssm, s3, instancePolicy: String(policy.plain.policy) },
    s3Sources,
    userData: String(instance.plain.userData),
    publicIp,
    hostname,
    domain,
    dkimSelector: String(run.outputs.dkimSelector.value),
    records: of(run, 'cloudflare:index/dnsRecord:DnsRecord').map((r) => servedRecord(r.plain)),
    ptrs,
    user,
    caPem: tlsCert,
    closedPorts: config['mxkit:sshCidr'] ? [] : [22],
    configPush: { commands, configParameter },
  };
}
