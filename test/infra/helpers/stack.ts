/**
 * Runs the Pulumi program (infra/index.ts) against one stack file, under mocks. The stack's YAML
 * config is loaded as the Pulumi CLI would pass it (structured values as JSON text). Secrets are
 * not kept in the example stack files (the CLI encrypts them in when you run `pulumi config set
 * --secret`), so the harness supplies recognisable placeholder secrets for them.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { load } from 'js-yaml';
import * as pulumi from '@pulumi/pulumi';
import { sesSigningKey } from '../../../infra/builders/ses';
import { installMocks, mockKeyPair, MOCK_AWS_SECRET_KEY, MOCK_SES_SMTP_PASSWORD, settle, resolve, type MockOptions, type MockRun, type Recorded } from './mocks';

export const ROOT = path.resolve(__dirname, '../../..');
export const TEST_HASH = '$scrypt$N=16384,r=8,p=1$c2FsdHNhbHRzYWx0$TESTHASHTESTHASHTESTHASHTESTHASHTESTHASHTEST';
export const TEST_API_TOKEN = 'TEST-SECRET-cloudflare-token-0000000000';
export const TEST_SMARTHOST_PASSWORD = 'TEST-SECRET-smarthost-password';
export const TEST_ALERTS_WEBHOOK = 'https://hooks.example.net/services/TEST-SECRET-webhook-token';
export const TEST_BUNDLE = 'console.log("mxkit test bundle");\n';

/** Stack names from stacks/Pulumi.<stack>.yaml (Pulumi.yaml sets stackConfigDir: stacks). */
export function stackNames(): string[] {
  return readdirSync(path.join(ROOT, 'stacks'))
    .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
    .filter((name): name is string => name !== undefined)
    .sort();
}

/** `project:key` → string, as PULUMI_CONFIG carries it. */
export function loadStackConfig(stack: string): Record<string, string> {
  const document = load(readFileSync(path.join(ROOT, 'stacks', `Pulumi.${stack}.yaml`), 'utf8')) as { config?: Record<string, unknown> };
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(document.config ?? {})) {
    const isSecure = typeof value === 'object' && value !== null && 'secure' in value;
    if (isSecure) throw new Error(`${key}: encrypted values cannot be decrypted in tests; leave secrets out of example stacks`);
    config[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return config;
}

export interface ProgramRun {
  config: Record<string, string>;
  resources: Recorded[];
  outputs: Record<string, { value: unknown; secret: boolean }>;
  secretTexts: string[];
  warnings: string[];
}

/** Placeholder secrets for the keys the stack file documents as `pulumi config set --secret`. */
export function withTestSecrets(config: Record<string, string>): Record<string, string> {
  const domain = config['mxkit:domain'];
  return {
    'cloudflare:apiToken': TEST_API_TOKEN,
    'mxkit:users': JSON.stringify([{ username: 'app', passwordHash: TEST_HASH, allowedFrom: [`*@${domain}`] }]),
    ...(config['mxkit:smarthost'] ? { 'mxkit:smarthostPassword': TEST_SMARTHOST_PASSWORD } : {}),
    'mxkit:alertsWebhook': TEST_ALERTS_WEBHOOK,
    ...config,
  };
}

/**
 * Runs infra/index.ts once in this process (the Pulumi runtime is process-global: one run per
 * process, or per jest test file). Works outside jest too (the boot rehearsal uses it).
 */
export type ProgramModule = Record<string, pulumi.Output<unknown> | string>;

// A non-literal specifier: node16 resolution would otherwise demand an ESM-style ".js" path, which
// jest does not map to the .ts file. (Bundled callers pass their own literal import.)
const programModule: string = '../../../infra/index';
const importProgram = async () => (await import(programModule)) as ProgramModule;

export async function runProgram(
  stack: string,
  overrides: Record<string, string> = {},
  mockOptions: MockOptions = {},
  loadProgram: () => Promise<ProgramModule> = importProgram,
  /** Sees the recorded registrations as they come (program-child.ts: a failing program never settles). */
  onMocks?: (run: MockRun) => void,
): Promise<ProgramRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mxkit-infra-'));
  const bundlePath = path.join(dir, 'mxkit.js');
  writeFileSync(bundlePath, TEST_BUNDLE);
  const config = { ...withTestSecrets(loadStackConfig(stack)), 'mxkit:bundlePath': bundlePath, ...overrides };
  const run = installMocks('mxkit', stack, mockOptions);
  onMocks?.(run);
  pulumi.runtime.setAllConfig(config, ['cloudflare:apiToken', 'mxkit:users', 'mxkit:smarthostPassword', 'mxkit:alertsWebhook']);
  const warnings: string[] = [];
  const log = pulumi.log as { warn: (message: string) => Promise<void> };
  const originalWarn = log.warn;
  log.warn = async (message: string) => void warnings.push(message);
  const outputs: ProgramRun['outputs'] = {};
  try {
    // Imported only now, after setMocks: the program registers its resources as it is loaded.
    const program = await loadProgram();
    for (const [name, value] of Object.entries(program)) {
      // A bundled import() adds the CommonJS module itself as `default`; it is no output.
      if (name === 'default') continue;
      outputs[name] = pulumi.Output.isInstance(value) ? await resolve(value) : { value, secret: false };
    }
    await settle(run);
  } finally {
    log.warn = originalWarn;
  }
  // Any line of the (mock) private key in user data or a plain output would be a leak.
  const secretTexts = [TEST_API_TOKEN, TEST_HASH, TEST_SMARTHOST_PASSWORD, TEST_ALERTS_WEBHOOK, MOCK_AWS_SECRET_KEY, MOCK_SES_SMTP_PASSWORD, mockKeyPair().privateKeyPem.split('\n')[1], sesSigningKey(mockKeyPair().privateKeyPem).slice(40, 120)];
  return { config, resources: run.resources, outputs, secretTexts, warnings };
}

export const ofType = (run: ProgramRun, type: string) => run.resources.filter((r) => r.type === type);
export const one = (run: ProgramRun, type: string) => {
  const found = ofType(run, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
};
