/**
 * `docker` stand-in: `run` turns the exact `docker run` line of a unit into the same process (same
 * argv, same mounts, read-only where the flags say so, the same capabilities); `stop`, `rm --force`,
 * `exec` and `kill --signal` (the config push's SIGHUP) act on it by name. Only the official Node.js image pinned in the user data is known:
 * it runs as this machine's Debian root plus the Node.js 22 build the rehearsal gives it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { containerCommand, containerScript, IMAGE_PATH, boundingSet, mountSource, privileges } from './container';
import { parseDockerRun, type ContainerRun } from './docker-args';
import { note, StandinError } from './log';
import { DOCKER_DATA, DOCKER_STATE, IMAGE_CATALOG, type ImageEntry } from './paths';
import { isRunning, signal, waitForExit } from './processes';

interface ContainerState {
  pid: number;
  image: string;
  run: ContainerRun;
}

const stateFile = (name: string) => `${DOCKER_STATE}/${name}.json`;

function readState(name: string): ContainerState | undefined {
  try {
    const state = JSON.parse(readFileSync(stateFile(name), 'utf8')) as ContainerState;
    return isRunning(state.pid) ? state : undefined;
  } catch {
    return undefined;
  }
}

function imageFor(reference: string): ImageEntry {
  const catalog = JSON.parse(readFileSync(IMAGE_CATALOG, 'utf8')) as Record<string, ImageEntry>;
  const entry = catalog[reference];
  if (!entry) throw new StandinError(`Unable to find image '${reference}' (the docker stand-in knows only ${Object.keys(catalog).join(', ')})`, 125);
  return entry;
}

function validate(run: ContainerRun): void {
  // The rehearsal's instance is one network namespace: only host networking exists there.
  if (run.network !== 'host') throw new StandinError(`docker stand-in: only --network host is emulated (got ${run.network})`, 125);
  if (!run.name) throw new StandinError('docker stand-in: give the container a --name', 125);
  for (const opt of run.securityOpt) if (opt !== 'no-new-privileges') throw new StandinError(`docker stand-in: --security-opt ${opt} is not emulated`, 125);
  boundingSet(run);
  // docker: "invalid mount config for type "bind": bind source path does not exist".
  for (const mount of run.mounts) {
    if (!mount.named && !existsSync(mount.source)) throw new StandinError(`docker: Error response from daemon: invalid mount config for type "bind": bind source path does not exist: ${mount.source}`, 125);
  }
}

async function runContainer(argv: readonly string[]): Promise<number> {
  const run = parseDockerRun(argv);
  validate(run);
  if (readState(run.name)) throw new StandinError(`docker: Error response from daemon: Conflict. The container name "/${run.name}" is already in use`, 125);
  const image = imageFor(run.image);
  // A named volume is made on first use, owned by the image's user (Docker copies the image's
  // directory, ownership included, into a new volume).
  for (const mount of run.mounts.filter((m) => m.named)) {
    const path = mountSource(mount);
    if (!existsSync(path)) {
      mkdirSync(path, { recursive: true });
      const [uid, gid] = (image.user ?? '0:0').split(':').map(Number);
      chownSync(path, uid, gid ?? uid);
      note('docker', `volume ${mount.source} created`);
    }
  }
  const root = `${DOCKER_DATA}/containers/${run.name}/root`;
  mkdirSync(root, { recursive: true });
  mkdirSync(DOCKER_STATE, { recursive: true });
  const script = containerScript(run, image, root, hostname());
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '/bin/bash', '-c', script], { stdio: 'inherit' });
  if (child.pid === undefined) throw new StandinError('docker stand-in: could not start the container', 125);
  writeFileSync(stateFile(run.name), JSON.stringify({ pid: child.pid, image: run.image, run } satisfies ContainerState));
  const mounts = run.mounts.map((m) => `${m.named ? `volume ${m.source}` : m.source}→${m.target}${m.readOnly ? ' (ro)' : ''}`).join(', ');
  const unenforced = [run.pidsLimit !== undefined ? `--pids-limit ${run.pidsLimit}` : '', run.memory ? `--memory ${run.memory}` : ''].filter(Boolean);
  note(
    'docker',
    `run ${run.name}: ${image.description}, pid ${child.pid}, user ${image.user ?? '0:0'}; ${run.readOnly ? 'read-only root' : 'writable root'}, capabilities ${boundingSet(run)}, mounts ${mounts}; ` +
      `${containerCommand(run.command, image).join(' ')}${unenforced.length ? ` (not enforced here: ${unenforced.join(', ')})` : ''}`,
  );
  // docker run in the foreground passes signals on to the container (--sig-proxy, the default).
  for (const name of ['SIGTERM', 'SIGINT'] as const) process.on(name, () => signal(child.pid as number, name));
  const code = await new Promise<number>((resolve) => child.on('exit', (exitCode, killedBy) => resolve(exitCode ?? (killedBy ? 128 + (killedBy === 'SIGKILL' ? 9 : 15) : 1))));
  note('docker', `${run.name} exited with ${code}`);
  if (run.remove) {
    rmSync(stateFile(run.name), { force: true });
    rmSync(`${DOCKER_DATA}/containers/${run.name}`, { recursive: true, force: true });
  }
  return code;
}

async function stopContainer(argv: readonly string[]): Promise<number> {
  let seconds = 10;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--time' || argv[i] === '-t') seconds = Number(argv[++i]);
    else names.push(argv[i]);
  }
  return eachContainer(names, async (name, { pid }) => {
    signal(pid, 'SIGTERM');
    if (!(await waitForExit(pid, seconds * 1000))) signal(pid, 'SIGKILL');
    await waitForExit(pid, 5000);
    note('docker', `stop ${name}: stopped`);
  });
}

/**
 * Runs `act` for each named container, in order; a name with no container gets Docker's error line
 * and makes the exit code 1, and the others still run (as `docker stop a b` and `docker kill a b` do).
 */
async function eachContainer(names: readonly string[], act: (name: string, state: ContainerState) => void | Promise<void>): Promise<number> {
  let code = 0;
  for (const name of names) {
    const state = readState(name);
    if (!state) {
      process.stderr.write(`Error response from daemon: No such container: ${name}\n`);
      code = 1;
      continue;
    }
    await act(name, state);
  }
  return code;
}

async function removeContainer(argv: readonly string[]): Promise<number> {
  const force = argv.includes('--force') || argv.includes('-f');
  for (const name of argv.filter((a) => !a.startsWith('-'))) {
    const state = readState(name);
    if (state && !force) throw new StandinError(`Error response from daemon: cannot remove container "/${name}": container is running`, 1);
    if (state) {
      signal(state.pid, 'SIGKILL');
      await waitForExit(state.pid, 5000);
    }
    rmSync(stateFile(name), { force: true });
  }
  return 0;
}

/** `docker kill [--signal SIG] NAME…`: the signal to the container's process (default SIGKILL), as Docker sends it. */
function killContainer(argv: readonly string[]): Promise<number> {
  let name: NodeJS.Signals = 'SIGKILL';
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--signal' || argv[i] === '-s') {
      const given = String(argv[++i] ?? '').toUpperCase();
      name = (given.startsWith('SIG') ? given : `SIG${given}`) as NodeJS.Signals;
    } else names.push(argv[i]);
  }
  return eachContainer(names, (container, state) => {
    signal(state.pid, name);
    note('docker', `kill ${container}: ${name}`);
    process.stdout.write(`${container}\n`);
  });
}

/** `docker exec NAME CMD…`: the command in the container's mount namespace and root, same capabilities. */
function execInContainer(argv: readonly string[]): number {
  const args = argv.filter((a) => a !== '-i');
  const [name, ...command] = args;
  const state = name ? readState(name) : undefined;
  if (!state) throw new StandinError(`Error response from daemon: No such container: ${name ?? ''}`, 1);
  const image = imageFor(state.image);
  const result = spawnSync(
    'nsenter',
    ['--target', String(state.pid), '--mount', '--root', '--wd=/', '/usr/bin/env', '-i', `PATH=${IMAGE_PATH}`, ...state.run.env, '/usr/bin/setpriv', ...privileges(state.run, image), '--', ...containerCommand(command, image)],
    { stdio: 'inherit' },
  );
  return result.status ?? 1;
}

export async function runDocker(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return runContainer(rest);
    case 'stop':
      return stopContainer(rest);
    case 'rm':
      return removeContainer(rest);
    case 'exec':
      return execInContainer(rest);
    case 'kill':
      return killContainer(rest);
    default:
      throw new StandinError(`docker stand-in: "docker ${command ?? ''}" is not emulated`, 1);
  }
}
