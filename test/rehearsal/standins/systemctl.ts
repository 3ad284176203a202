/**
 * `systemctl` stand-in: enough of systemd for mxkit's units. `enable` links WantedBy=, `start` starts
 * Requires= first (their failure fails the start), Wants= and <unit>.wants/ links (their failure
 * does not; those ordered Before= the unit first), runs ExecStartPre= lines in order (a `-` line may
 * fail), then ExecStart= (a oneshot to the end; a simple service in the background, its main
 * process recorded), honours RequiresMountsFor= through /etc/fstab; a .timer runs its service once
 * when started; `stop` stops units that
 * require this one or are PartOf= it first, runs ExecStop= and waits for the main process. Restart= is not emulated: the rehearsal restarts
 * units itself (reboot). Output of each unit goes to /var/log/mxkit-rehearsal/<unit>.log.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { note, StandinError } from './log';
import { IMAGE_CATALOG, LOG_DIR, SYSTEMD_STATE, UNIT_DIR, UNIT_PATH } from './paths';
import { isRunning, signal, waitForExit } from './processes';
import { listValue, parseCommandLine, parseUnitFile, values, type UnitFile } from './unit-file';

/** Units systemd and the distribution provide; the stand-in treats them as present and startable. */
const BUILTIN = new Set(['docker.service', 'network-online.target', 'local-fs.target', 'multi-user.target']);

interface UnitState {
  pid?: number;
}

const statePath = (unit: string) => `${SYSTEMD_STATE}/${unit}.json`;
const logPath = (unit: string) => `${LOG_DIR}/${unit}.log`;

function activeState(unit: string): UnitState | undefined {
  try {
    const state = JSON.parse(readFileSync(statePath(unit), 'utf8')) as UnitState;
    return state.pid === undefined || isRunning(state.pid) ? state : undefined;
  } catch {
    return undefined;
  }
}

function markActive(unit: string, state: UnitState): void {
  mkdirSync(SYSTEMD_STATE, { recursive: true });
  writeFileSync(statePath(unit), JSON.stringify(state));
}

function readUnit(unit: string): UnitFile {
  const file = `${UNIT_DIR}/${unit}`;
  if (!existsSync(file)) throw new StandinError(`Failed to start ${unit}: Unit ${unit} not found.`, 5);
  return parseUnitFile(readFileSync(file, 'utf8'));
}

function runSync(unit: string, line: string): boolean {
  const { argv, ignoreFailure } = parseCommandLine(line);
  const log = openSync(logPath(unit), 'a');
  const result = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', log, log], env: { PATH: UNIT_PATH }, cwd: '/' });
  const ok = result.status === 0;
  if (!ok) note('systemd', `${unit}: ${argv[0]} ${ok ? 'succeeded' : `failed (${result.status ?? result.signal ?? result.error?.message})`}${ignoreFailure ? ', ignored (-)' : ''}`);
  return ok || ignoreFailure;
}

/** RequiresMountsFor=: the fstab entry for the path (systemd's mount unit) must be mounted. */
function requireMounts(unit: string, paths: string[]): boolean {
  const fstab = existsSync('/etc/fstab') ? readFileSync('/etc/fstab', 'utf8') : '';
  for (const path of paths) {
    const entry = fstab
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .find((fields) => fields.length >= 2 && !fields[0].startsWith('#') && (path === fields[1] || path.startsWith(`${fields[1]}/`)));
    if (!entry) continue; // no mount unit, no dependency (systemd.unit(5), RequiresMountsFor=)
    if (spawnSync('mountpoint', ['-q', entry[1]]).status === 0) continue;
    if (spawnSync('mount', [entry[1]], { stdio: 'ignore' }).status !== 0) {
      note('systemd', `${unit}: dependency failed: ${entry[1]} (from /etc/fstab) cannot be mounted`);
      return false;
    }
  }
  return true;
}

function startUnit(unit: string, chain: string[] = []): boolean {
  if (chain.includes(unit)) throw new StandinError(`systemd stand-in: dependency cycle ${[...chain, unit].join(' → ')}`);
  if (activeState(unit)) return true;
  if (BUILTIN.has(unit)) {
    if (unit === 'docker.service' && !existsSync(IMAGE_CATALOG)) {
      note('systemd', 'docker.service: the Docker engine stand-in has no images');
      return false;
    }
    markActive(unit, {});
    return true;
  }
  const file = readUnit(unit);
  if (unit.endsWith('.timer')) {
    // A timer's first elapse, at once: the service it triggers runs one time (OnBootSec= delays and
    // later elapses are not emulated). Starting a timer succeeds whatever its service does.
    markActive(unit, {});
    const service = values(file, 'Timer', 'Unit')[0] ?? unit.replace(/\.timer$/, '.service');
    note('systemd', `${unit}: started; first elapse runs ${service}`);
    if (!startUnit(service, [...chain, unit])) note('systemd', `${unit}: ${service} failed`);
    return true;
  }
  for (const required of listValue(file, 'Unit', 'Requires')) {
    if (!startUnit(required, [...chain, unit])) {
      note('systemd', `${unit}: dependency failed: ${required}`);
      return false;
    }
  }
  const wanted = [...listValue(file, 'Unit', 'Wants'), ...wantedBy(unit)].filter((w) => !chain.includes(w));
  const first = wanted.filter((w) => !BUILTIN.has(w) && listValue(readUnit(w), 'Unit', 'Before').includes(unit));
  const wantedStart = (w: string) => {
    if (!startUnit(w, [...chain, unit])) note('systemd', `${unit}: wanted ${w} did not start; ${unit} goes on (Wants=)`);
  };
  for (const w of first) wantedStart(w);
  if (!requireMounts(unit, listValue(file, 'Unit', 'RequiresMountsFor'))) return false;
  mkdirSync(LOG_DIR, { recursive: true });
  for (const line of values(file, 'Service', 'ExecStartPre')) {
    if (!runSync(unit, line)) {
      note('systemd', `${unit}: failed in ExecStartPre, not started`);
      return false;
    }
  }
  const [start] = values(file, 'Service', 'ExecStart');
  const type = values(file, 'Service', 'Type')[0] ?? 'simple';
  if (type === 'oneshot') {
    for (const line of values(file, 'Service', 'ExecStart')) if (!runSync(unit, line)) return false;
    if (values(file, 'Service', 'RemainAfterExit')[0] === 'yes') markActive(unit, {});
    note('systemd', `${unit}: finished`);
    return true;
  }
  if (type !== 'simple') throw new StandinError(`systemd stand-in: Type=${type} is not emulated`);
  const { argv } = parseCommandLine(start);
  const log = openSync(logPath(unit), 'a');
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', log, log], env: { PATH: UNIT_PATH }, cwd: '/' });
  if (child.pid === undefined) return false;
  child.unref();
  markActive(unit, { pid: child.pid });
  note('systemd', `${unit}: started, main process ${child.pid}`);
  for (const w of wanted.filter((w) => !first.includes(w))) wantedStart(w);
  return true;
}

/** Units linked into <unit>.wants/ by their WantedBy= (systemd.unit(5), [Install]). */
function wantedBy(unit: string): string[] {
  const dir = `${UNIT_DIR}/${unit}.wants`;
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Units whose Requires= or PartOf= names `unit` (systemd stops them with it, first). */
function dependents(unit: string): string[] {
  if (!existsSync(SYSTEMD_STATE)) return [];
  return readdirSync(SYSTEMD_STATE)
    .map((file) => file.replace(/\.json$/, ''))
    .filter((other) => other !== unit && !BUILTIN.has(other) && activeState(other))
    .filter((other) => [...listValue(readUnit(other), 'Unit', 'Requires'), ...listValue(readUnit(other), 'Unit', 'PartOf')].includes(unit));
}

async function stopUnit(unit: string): Promise<void> {
  const state = activeState(unit);
  if (!state) return;
  for (const dependent of dependents(unit)) await stopUnit(dependent);
  if (!BUILTIN.has(unit)) {
    const file = readUnit(unit);
    for (const line of values(file, 'Service', 'ExecStop')) runSync(unit, line);
    if (state.pid !== undefined) {
      const timeout = Number(/^(\d+)/.exec(values(file, 'Service', 'TimeoutStopSec')[0] ?? '90')?.[1] ?? 90);
      if (!(await waitForExit(state.pid, 1000))) signal(state.pid, 'SIGTERM');
      if (!(await waitForExit(state.pid, timeout * 1000))) signal(state.pid, 'SIGKILL');
    }
  }
  rmSync(statePath(unit), { force: true });
  note('systemd', `${unit}: stopped`);
}

function enableUnit(unit: string): void {
  const targets = BUILTIN.has(unit) ? ['multi-user.target'] : listValue(readUnit(unit), 'Install', 'WantedBy');
  for (const target of targets) {
    const link = `${UNIT_DIR}/${target}.wants/${unit}`;
    mkdirSync(dirname(link), { recursive: true });
    if (!existsSync(link)) symlinkSync(`${UNIT_DIR}/${unit}`, link);
  }
  note('systemd', `${unit}: enabled (${targets.join(', ')})`);
}

export async function runSystemctl(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const now = rest.includes('--now');
  const units = rest.filter((a) => !a.startsWith('--'));
  switch (command) {
    case 'daemon-reload':
      return 0;
    case 'enable':
      for (const unit of units) enableUnit(unit);
      if (now) for (const unit of units) if (!startUnit(unit)) return failed(unit);
      return 0;
    case 'start':
      for (const unit of units) if (!startUnit(unit)) return failed(unit);
      return 0;
    case 'stop':
      for (const unit of units) await stopUnit(unit);
      return 0;
    case 'is-active': {
      const active = units.every((unit) => activeState(unit));
      process.stdout.write(`${active ? 'active' : 'inactive'}\n`);
      return active ? 0 : 3;
    }
    default:
      throw new StandinError(`systemctl stand-in: "${command ?? ''}" is not emulated`);
  }
}

function failed(unit: string): number {
  process.stderr.write(`Job for ${unit} failed. See ${logPath(unit)}.\n`);
  return 1;
}
