/**
 * `npm run bench`: mxkit (signing) against Postfix + OpenDKIM and Postfix without DKIM, on this
 * machine, in one run, with the same load into the same destination (smtp-sink), side by side.
 *
 * 1. Throughput: N messages of 5 KB (smtp-source, 20 sessions), runs alternating the order of the
 *    systems; medians and spread; accept latency, memory under load and with idle sessions,
 *    start to ready, bundle size.
 * 2. Cost as the work grows: start-up with a large queue, a destination outage and recovery,
 *    large messages, many recipients over many domains (bench/growth/).
 *
 * `--memory` runs only issue 13's large-message memory check instead (bench/memory.ts).
 *
 * `--quick` is the CI smoke: a few hundred messages, one run, every scenario scaled down; it fails
 * only when a message is lost or arrives twice, never on speed. Goals are printed, not enforced.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { measureLarge } from './growth/large';
import { measureOutage } from './growth/outage';
import { measureRecipients } from './growth/recipients';
import { measureStartup, type StartupFigures } from './growth/startup';
import { runMemoryBench } from './memory';
import { BUNDLE, makeCodeCache } from './mxkit';
import { figure, median, spread } from './stats';
import { LABELS, SYSTEMS, type SystemName } from './systems';
import { measureThroughput, type ThroughputFigures } from './throughput';

const SCENARIOS = ['throughput', 'startup', 'outage', 'large', 'recipients'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    messages: { type: 'string' },
    'latency-messages': { type: 'string' },
    idle: { type: 'string' },
    systems: { type: 'string' },
    only: { type: 'string' },
    'startup-sizes': { type: 'string' },
    'outage-messages': { type: 'string' },
    'large-messages': { type: 'string' },
    'large-megabytes': { type: 'string' },
    'rcpt-messages': { type: 'string' },
    // --memory (bench/memory.ts): large messages on the mx listener, and inside a memory cgroup.
    memory: { type: 'boolean', default: false },
    sessions: { type: 'string' },
    megabytes: { type: 'string' },
    'cgroup-sessions': { type: 'string' },
    'cgroup-mib': { type: 'string' },
    'no-postfix': { type: 'boolean', default: false },
    'in-flight-mib': { type: 'string' },
  },
  allowPositionals: false,
});
const quick = values.quick === true;
const number = (value: string | undefined, full: number, smoke: number) => (value === undefined ? (quick ? smoke : full) : Number(value));
const list = <T extends string>(value: string | undefined, all: readonly T[], name: string): T[] => {
  if (value === undefined) return [...all];
  const chosen = value.split(',').map((item) => item.trim()) as T[];
  const unknown = chosen.filter((item) => !all.includes(item));
  if (unknown.length > 0) throw new Error(`--${name}: unknown ${unknown.join(', ')} (one of ${all.join(', ')})`);
  return chosen;
};

const settings = {
  runs: number(values.runs, 5, 1),
  messages: number(values.messages, 10_000, 300),
  latencyMessages: number(values['latency-messages'], 2000, 100),
  idleSessions: number(values.idle, 1000, 50),
  sessions: 20,
  systems: list(values.systems, SYSTEMS, 'systems'),
  scenarios: list(values.only, SCENARIOS, 'only'),
  startupSizes: (values['startup-sizes'] ?? (quick ? '200' : '10000,100000')).split(',').map(Number),
  outage: { messages: number(values['outage-messages'], 10_000, 200), retry: quick ? { firstS: 2, laterS: 4 } : { firstS: 10, laterS: 20 } },
  large: { messages: number(values['large-messages'], 200, 5), bytes: Math.round(number(values['large-megabytes'], 10, 1) * 1024 * 1024) },
  recipients: { messages: number(values['rcpt-messages'], 1000, 20), recipients: 50, domains: 20 },
};
const TIMEOUT_MS = 600_000;

/** What went wrong in any scenario (a lost or repeated message); the run fails on these only. */
const failures: string[] = [];

function ensurePeers(): void {
  const missing = ['smtp-source', 'smtp-sink', 'postfix', 'opendkim'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  console.log(`installing postfix and opendkim (for ${missing.join(', ')}) from Debian, postfix preseeded to "No configuration"`);
  execFileSync('sh', ['-c', 'echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix opendkim'], { stdio: 'inherit' });
}

function quiet(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

/** The commit, the machine and the load, printed first: a figure means little without them. */
function describeMachine(): void {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  const opendkim = /OpenDKIM Filter v(\S+)/.exec(quiet('opendkim', ['-V']))?.[1] ?? 'unknown';
  console.log(`commit ${quiet('git', ['rev-parse', '--short', 'HEAD'])}${quiet('git', ['status', '--porcelain']) ? ' (with local changes)' : ''}, ${new Date().toISOString()}`);
  console.log(`machine: ${cpus().length} cores (${model}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.versions.node}, Postfix ${quiet('postconf', ['-d', '-h', 'mail_version'])}, OpenDKIM ${opendkim}`);
  console.log(`load average at start: ${loadavg().map((value) => value.toFixed(2)).join(' ')}${loadavg()[0] > 1 ? ' (busy machine: ratios are unreliable)' : ''}\n`);
}

const round = (_key: string, value: unknown) => (typeof value === 'number' ? Math.round(value * 10) / 10 : value);

function table(header: string[], rows: string[][]): void {
  console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log('');
}

async function throughputSection(): Promise<void> {
  const results = new Map<SystemName, ThroughputFigures[]>(settings.systems.map((system) => [system, []]));
  for (let run = 0; run < settings.runs; run++) {
    // Rotate who goes first, so no system always meets a warm (or a tired) machine.
    const order = settings.systems.map((_, index) => settings.systems[(index + run) % settings.systems.length]);
    for (const system of order) {
      const figures = await measureThroughput(system, settings);
      results.get(system)?.push(figures);
      console.log(`run ${run + 1} ${system}: ${JSON.stringify(figures, round)}`);
      if (figures.delivered < settings.messages) failures.push(`throughput run ${run + 1}: ${system} delivered ${figures.delivered} of ${settings.messages}`);
    }
  }
  const rows: Array<[string, keyof ThroughputFigures]> = [
    ['accepted msgs/s', 'acceptedPerSec'],
    ['delivered msgs/s (end to end)', 'deliveredPerSec'],
    ['accept latency p50 (ms)', 'p50Ms'],
    ['accept latency p99 (ms)', 'p99Ms'],
    ['peak memory (PSS) under load (MiB)', 'peakPssMiB'],
    [`memory (PSS) with ${settings.idleSessions} idle sessions (MiB)`, 'idlePssMiB'],
    ['start to ready (ms)', 'startToReadyMs'],
    ['CPU time per message (ms, all cores)', 'cpuMsPerMessage'],
    ['load generator, sink and bench CPU per message (ms)', 'harnessCpuMsPerMessage'],
    ['cores busy during the load (%)', 'coresBusyPercent'],
  ];
  const medianOf = (system: SystemName, key: keyof ThroughputFigures) => median((results.get(system) ?? []).map((figures) => figures[key]));
  const ratioColumns = settings.systems.filter((system) => system !== 'mxkit' && settings.systems.includes('mxkit'));
  console.log(`\n${settings.messages} messages of 5 KB, ${settings.sessions} sessions, ${settings.runs} run(s) rotating the order; medians (± half the min-max spread)\n`);
  table(
    ['figure', ...settings.systems.map((system) => LABELS[system]), ...ratioColumns.map((system) => `mxkit / ${LABELS[system]}`)],
    [
      ...rows.map(([label, key]) => [
        label,
        ...settings.systems.map((system) => `${figure(medianOf(system, key))} ${spread((results.get(system) ?? []).map((figures) => figures[key]))}`.trim()),
        ...ratioColumns.map((system) => (medianOf('mxkit', key) / medianOf(system, key)).toFixed(2)),
      ]),
      ['bundle size (bytes)', ...settings.systems.map((system) => (system === 'mxkit' ? String(statSync(BUNDLE).size) : 'n/a')), ...ratioColumns.map(() => '')],
    ],
  );
  if (settings.systems.includes('mxkit')) printGoals(medianOf);
}

/** The goals, checked against this run's medians: printed, never failing the run. */
function printGoals(medianOf: (system: SystemName, key: keyof ThroughputFigures) => number): void {
  const goals: Array<[string, number, (value: number) => boolean, string]> = [];
  if (settings.systems.includes('postfix')) {
    goals.push(['delivered msgs/s vs Postfix without DKIM', medianOf('mxkit', 'deliveredPerSec') / medianOf('postfix', 'deliveredPerSec'), (value) => value >= 1.5, '≥ 1.5×']);
    goals.push(['accepted msgs/s vs Postfix without DKIM', medianOf('mxkit', 'acceptedPerSec') / medianOf('postfix', 'acceptedPerSec'), (value) => value >= 1.5, '≥ 1.5×']);
    goals.push(['accept latency p99 vs Postfix without DKIM', medianOf('mxkit', 'p99Ms') / medianOf('postfix', 'p99Ms'), (value) => value <= 1, '≤ 1.0×']);
  }
  if (settings.systems.includes('postfix-dkim')) {
    goals.push(['peak memory under load vs Postfix + OpenDKIM', medianOf('mxkit', 'peakPssMiB') / medianOf('postfix-dkim', 'peakPssMiB'), (value) => value <= 1, '≤ 1.0×']);
    goals.push(['memory with idle sessions vs Postfix + OpenDKIM', medianOf('mxkit', 'idlePssMiB') / medianOf('postfix-dkim', 'idlePssMiB'), (value) => value <= 0.15, '≤ 0.15×']);
  }
  goals.push(['start to ready (ms)', medianOf('mxkit', 'startToReadyMs'), (value) => value <= 300, '≤ 300']);
  goals.push(['bundle size (MB)', statSync(BUNDLE).size / 1e6, (value) => value <= 3.5, '≤ 3.5']);
  console.log('goals (informational: speed never fails the bench)\n');
  table(['goal', 'this run', 'target', 'met'], goals.map(([label, value, met, target]) => [label, value.toFixed(2), target, met(value) ? 'yes' : 'no']));
}

async function startupSection(): Promise<void> {
  const rows: StartupFigures[] = [];
  for (const size of settings.startupSizes) {
    for (const system of ['mxkit', 'postfix'] as const) {
      if (!settings.systems.includes(system)) continue;
      const figures = await measureStartup(system, size);
      console.log(`startup ${system} ${size}: ${JSON.stringify(figures, round)}`);
      rows.push(figures);
    }
  }
  console.log(`\nstart-up with a queue (deferred messages, next due in an hour)\n`);
  table(
    ['system', 'queued', 'start to ready (ms)', 'first 250 after ready (ms)', 'queue scheduled (ms)', 'memory (PSS, MiB)'],
    rows.map((row) => [LABELS[row.system], String(row.queued), figure(row.startToReadyMs), figure(row.firstAcceptMs), row.system === 'mxkit' ? figure(row.recoveredMs) : 'n/a (background)', figure(row.pssMiB)]),
  );
}

/**
 * Runs one growth scenario on every system in turn, printing each system's figures as they come,
 * and records as failures what `lost` finds (a message lost or delivered twice).
 */
async function measureEach<T>(scenario: string, measure: (system: SystemName) => Promise<T>, lost: (figures: T) => string[]): Promise<T[]> {
  const rows: T[] = [];
  for (const system of settings.systems) {
    const figures = await measure(system);
    console.log(`${scenario} ${system}: ${JSON.stringify(figures, round)}`);
    rows.push(figures);
    failures.push(...lost(figures).map((problem) => `${scenario}: ${system} ${problem}`));
  }
  return rows;
}

async function outageSection(): Promise<void> {
  const rows = await measureEach(
    'outage',
    (system) => measureOutage(system, { ...settings.outage, timeoutMs: TIMEOUT_MS }),
    (figures) => [
      ...(figures.delivered < figures.messages ? [`delivered ${figures.delivered} of ${figures.messages}`] : []),
      ...(figures.duplicates > 0 ? [`delivered ${figures.duplicates} message(s) twice`] : []),
    ],
  );
  const { retry } = settings.outage;
  console.log(`\n${settings.outage.messages} messages queued while the destination refused connections, then it came back (retries after ${retry.firstS} s, then every ${retry.laterS} s)\n`);
  table(
    ['system', 'outage (s)', 'back until all delivered (s)', 'delivered', 'delivered twice', 'peak memory (PSS, MiB)'],
    rows.map((row) => [LABELS[row.system], figure(row.outageSeconds), figure(row.recoverySeconds), String(row.delivered), String(row.duplicates), figure(row.peakPssMiB)]),
  );
}

async function largeSection(): Promise<void> {
  const rows = await measureEach(
    'large',
    (system) => measureLarge(system, settings.large.messages, settings.large.bytes, TIMEOUT_MS),
    (figures) => (figures.delivered < figures.messages ? [`delivered ${figures.delivered} of ${figures.messages}`] : []),
  );
  console.log(`\n${settings.large.messages} messages of ${(settings.large.bytes / 2 ** 20).toFixed(0)} MiB, 10 sessions\n`);
  table(['system', 'MB/s (end to end)', 'peak memory (PSS, MiB)'], rows.map((row) => [LABELS[row.system], figure(row.megabytesPerSec), figure(row.peakPssMiB)]));
}

async function recipientsSection(): Promise<void> {
  const expected = settings.recipients.messages * settings.recipients.recipients;
  const rows = await measureEach(
    'recipients',
    (system) => measureRecipients(system, { ...settings.recipients, timeoutMs: TIMEOUT_MS }),
    (figures) => [
      ...(figures.delivered < expected ? [`delivered ${figures.delivered} of ${expected} recipients`] : []),
      ...(figures.duplicates > 0 ? [`delivered ${figures.duplicates} recipient(s) twice`] : []),
    ],
  );
  const { messages, recipients, domains } = settings.recipients;
  console.log(`\n${messages} messages × ${recipients} recipients over ${domains} destination domains (each its own MX)\n`);
  table(
    ['system', 'recipients/s (end to end)', 'transactions at the destinations', 'delivered twice', 'peak memory (PSS, MiB)'],
    rows.map((row) => [LABELS[row.system], figure(row.recipientsPerSec), String(row.transactions), String(row.duplicates), figure(row.peakPssMiB)]),
  );
}

const SECTIONS: Record<Scenario, () => Promise<void>> = {
  throughput: throughputSection,
  startup: startupSection,
  outage: outageSection,
  large: largeSection,
  recipients: recipientsSection,
};

async function main(): Promise<void> {
  ensurePeers();
  if (!existsSync(BUNDLE)) throw new Error('dist/mxkit.js is missing: run npm run build');
  console.log(makeCodeCache());
  if (values.memory === true) {
    const ok = await runMemoryBench({
      sessions: number(values.sessions, 100, 10),
      megabytes: number(values.megabytes, 20, 5),
      cgroupSessions: number(values['cgroup-sessions'], 40, 4),
      cgroupMiB: number(values['cgroup-mib'], 2048, 2048),
      postfix: values['no-postfix'] !== true,
      ...(values['in-flight-mib'] === undefined ? {} : { inFlightBytes: Number(values['in-flight-mib']) * 1024 * 1024 }),
    });
    if (!ok) process.exitCode = 1;
    return;
  }
  describeMachine();
  const started = Date.now();
  for (const scenario of settings.scenarios) await SECTIONS[scenario]();
  console.log(`load average at end: ${loadavg().map((value) => value.toFixed(2)).join(' ')}; took ${Math.round((Date.now() - started) / 1000)} s`);
  if (failures.length > 0) {
    console.error(`FAILED:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log(`every system delivered every message, none twice (${settings.scenarios.join(', ')})`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

