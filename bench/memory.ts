/**
 * `npm run bench -- --memory`: large messages on the mx listener (issue 13 point 4).
 *
 * 1. `--sessions` (100) concurrent messages of `--megabytes` (20) MB each to mxkit's mx listener
 *    (inbound SPF/DKIM/DMARC/ARC checks on, forwarding per route to the sink), from ten loopback
 *    addresses; the relay's peak RSS and PSS, sampled every 100 ms; then the same load on Postfix.
 * 2. `--cgroup-sessions` (40) such messages to mxkit running inside a memory cgroup of
 *    `--cgroup-mib` (2048) MiB: every reply must be 250 or 4xx and the relay must not be killed.
 *    cgroup v2 (memory.max) where the memory controller is there, else v1 (memory.limit_in_bytes);
 *    needs root ("skipped: needs root" otherwise).
 * `--in-flight-mib N` sets the relay's limits.maxInFlightBytes (default: the relay's default).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { RELAY_NODE_OPTIONS } from '../relay/src/ops/heap-mode';
import { BUNDLE, relayEnvironment, waitForReady } from './mxkit';
import { freePort, waitForBanner } from './net';
import { startPostfix } from './postfix';
import { samplePeakRss } from './rss';
import { startSink } from './sink';

export interface MemoryOptions {
  sessions: number;
  megabytes: number;
  cgroupSessions: number;
  cgroupMiB: number;
  postfix: boolean;
  /** limits.maxInFlightBytes for the relay (its default when undefined). */
  inFlightBytes?: number;
}

const LINE = `${'x'.repeat(78)}\r\n`;

/** One message of `bytes` over its own connection; resolves with the reply to DATA (or why not). */
export function sendLarge(port: number, localAddress: string, bytes: number, index: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    socket.setEncoding('latin1');
    let buffer = '';
    let step = 0;
    const commands = ['EHLO load.bench.test', `MAIL FROM:<load${index}@sender.bench.test>`, `RCPT TO:<user${index}@bench.test>`, 'DATA'];
    const finish = (reply: string) => {
      socket.destroy();
      resolve(reply);
    };
    const writeBody = () => {
      let left = Math.floor(bytes / LINE.length);
      socket.write(`From: <load${index}@sender.bench.test>\r\nTo: <user${index}@bench.test>\r\nSubject: large ${index}\r\n\r\n`);
      const chunk = LINE.repeat(800);
      const pump = () => {
        while (left > 0) {
          const lines = Math.min(800, left);
          left -= lines;
          if (!socket.write(lines === 800 ? chunk : LINE.repeat(lines))) return void socket.once('drain', pump);
        }
        socket.write('.\r\n');
      };
      pump();
    };
    socket.on('data', (text: string) => {
      buffer += text;
      const match = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(buffer);
      if (!match) return;
      const reply = buffer.slice(buffer.lastIndexOf(`${match[1]} `)).trim();
      buffer = '';
      const code = Number(match[1]);
      if (step === 5) return finish(reply);
      if (step === 4 && code === 354) {
        step = 5;
        return writeBody();
      }
      if (code >= 400 || (step > 0 && code !== 250)) return finish(reply);
      socket.write(`${commands[step]}\r\n`);
      step++;
    });
    socket.on('error', (error) => finish(`error: ${error.message}`));
    socket.on('close', () => finish(buffer ? buffer.trim() : 'closed'));
  });
}

function sources(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `127.0.0.${10 + (index % 10)}`);
}

async function load(port: number, sessions: number, bytes: number): Promise<Record<string, number>> {
  const replies = await Promise.all(sources(sessions).map((address, index) => sendLarge(port, address, bytes, index)));
  const tally: Record<string, number> = {};
  for (const reply of replies) {
    const key = /^\d{3}( \d\.\d\.\d)?/.exec(reply)?.[0] ?? reply.slice(0, 40);
    tally[key] = (tally[key] ?? 0) + 1;
  }
  return tally;
}

async function writeMxConfig(root: string, mxPort: number, httpPort: number, sinkPort: number, inFlightBytes?: number): Promise<string> {
  mkdirSync(join(root, 'spool'), { recursive: true });
  const tls = await generate([{ name: 'commonName', value: 'relay.bench.test' }], { keyType: 'rsa', keySize: 2048, algorithm: 'sha256' });
  writeFileSync(join(root, 'tls.crt'), tls.cert);
  writeFileSync(join(root, 'tls.key'), tls.private);
  writeFileSync(join(root, 'dkim.key'), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const config = {
    hostname: 'relay.bench.test',
    domains: ['bench.test'],
    listen: { mx: { host: '127.0.0.1', port: mxPort }, http: { host: '127.0.0.1', port: httpPort } },
    tls: { certFile: join(root, 'tls.crt'), keyFile: join(root, 'tls.key') },
    dkim: [{ domain: 'bench.test', selector: 'bench', keyFile: join(root, 'dkim.key') }],
    routes: [{ match: '*@bench.test', forward: ['inbox@sink.bench.test'] }],
    spoolDir: join(root, 'spool'),
    // The sender's DNS answers nothing (a closed port): SPF/DKIM/DMARC end in temperror/none.
    delivery: { dnsServers: ['127.0.0.1:9'], smarthost: { host: '127.0.0.3', port: sinkPort } },
    limits: { maxMessageBytes: 26_214_400, ...(inFlightBytes ? { maxInFlightBytes: inFlightBytes } : {}) },
    log: { level: 'warn' },
  };
  const path = join(root, 'relay.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

interface MemoryCgroup {
  path: string;
  version: 1 | 2;
  procsFile: string;
  oomKills(): number;
  peakBytes(): number | undefined;
  remove(): void;
}

/** A memory cgroup of `limit` bytes: v2 where its memory controller is enabled, else v1. */
function makeMemoryCgroup(limit: number): MemoryCgroup | string {
  const name = `mxkit-bench-${process.pid}`;
  const v2Root = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
  const v2Controllers = existsSync(join(v2Root, 'cgroup.controllers')) ? readFileSync(join(v2Root, 'cgroup.controllers'), 'utf8') : '';
  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  const count = (text: string, key: string) => Number(new RegExp(`^${key} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  if (/\bmemory\b/.test(v2Controllers)) {
    const path = join(v2Root, name);
    mkdirSync(path);
    writeFileSync(join(path, 'memory.max'), String(limit));
    writeFileSync(join(path, 'memory.swap.max'), '0');
    return {
      path,
      version: 2,
      procsFile: join(path, 'cgroup.procs'),
      oomKills: () => count(read(join(path, 'memory.events')), 'oom_kill'),
      peakBytes: () => (existsSync(join(path, 'memory.peak')) ? Number(read(join(path, 'memory.peak'))) : undefined),
      remove: () => rmdirSync(path),
    };
  }
  if (existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes')) {
    const path = join('/sys/fs/cgroup/memory', name);
    mkdirSync(path);
    writeFileSync(join(path, 'memory.limit_in_bytes'), String(limit));
    return {
      path,
      version: 1,
      procsFile: join(path, 'cgroup.procs'),
      oomKills: () => count(read(join(path, 'memory.oom_control')), 'oom_kill'),
      peakBytes: () => Number(read(join(path, 'memory.max_usage_in_bytes'))),
      remove: () => rmdirSync(path),
    };
  }
  return 'no memory cgroup controller (neither v2 memory.max nor v1 memory.limit_in_bytes)';
}

async function startRelay(configPath: string, mxPort: number, httpPort: number, cgroup?: MemoryCgroup): Promise<{ child: ChildProcess; exit: Promise<NodeJS.Signals | number | null>; stop(): Promise<void> }> {
  // Inside a cgroup: a shell joins it, then execs node, so only the relay is in it.
  const child = cgroup
    ? spawn('sh', ['-c', `echo $$ > ${cgroup.procsFile} && exec "$0" "$@"`, process.execPath, ...RELAY_NODE_OPTIONS, BUNDLE, 'relay', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'], env: relayEnvironment() })
    : spawn(process.execPath, [...RELAY_NODE_OPTIONS, BUNDLE, 'relay', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'], env: relayEnvironment() });
  const exit = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  await waitForReady(httpPort);
  await waitForBanner('127.0.0.1', mxPort);
  return {
    child,
    exit,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exit;
    },
  };
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)}`;
}

export async function runMemoryBench(options: MemoryOptions): Promise<boolean> {
  const bytes = options.megabytes * 1024 * 1024;
  let ok = true;
  const root = mkdtempSync(join(tmpdir(), 'bench-memory-'));
  chmodSync(root, 0o755); // Postfix's daemons (user postfix) must reach their folders below it
  const sinkPort = await freePort('127.0.0.3');
  const sink = await startSink('127.0.0.3', sinkPort);
  await waitForBanner('127.0.0.3', sinkPort);
  try {
    // 1. Peak memory of mxkit and Postfix under the same load.
    const mxPort = await freePort();
    const httpPort = await freePort();
    const relay = await startRelay(await writeMxConfig(join(root, 'mxkit'), mxPort, httpPort, sinkPort, options.inFlightBytes), mxPort, httpPort);
    const pid = relay.child.pid ?? -1;
    const rss = samplePeakRss(() => [pid]);
    const rssPeak = samplePeakVmRss(pid);
    const started = Date.now();
    const before = sink.count();
    const tally = await load(mxPort, options.sessions, bytes);
    const seconds = (Date.now() - started) / 1000;
    // Accepted mail is forwarded to the sink: delivery's memory counts too.
    await Promise.race([sink.reach(before + (tally['250 2.6.0'] ?? 0)), new Promise((resolve) => setTimeout(resolve, 300_000).unref())]);
    const peakPss = rss.stop();
    const peakRss = rssPeak.stop();
    await relay.stop();
    console.log(`mxkit: ${options.sessions} x ${options.megabytes} MB on mx in ${seconds.toFixed(1)} s: replies ${JSON.stringify(tally)}; forwarded to the sink: ${sink.count() - before}; peak RSS ${mib(peakRss)} MiB, peak PSS ${peakPss.toFixed(1)} MiB (load and forwarding)`);
    if (peakRss / 1024 >= 400) {
      console.error(`FAILED: peak RSS ${mib(peakRss)} MiB is not under 400 MiB`);
      ok = false;
    }
    if (options.postfix) {
      const postfixPort = await freePort();
      const postfix = await startPostfix(join(root, 'postfix'), postfixPort, `[127.0.0.3]:${sinkPort}`, undefined, ['message_size_limit = 26214400']);
      const pfRss = samplePeakRss(() => [postfix.masterPid() ?? -1]);
      const pfTally = await load(postfixPort, options.sessions, bytes);
      const pfPeak = pfRss.stop();
      await postfix.stop();
      console.log(`Postfix: same load: replies ${JSON.stringify(pfTally)}; peak PSS (all processes) ${pfPeak.toFixed(1)} MiB`);
    }

    // 2. A memory cgroup the size of the default instance.
    if (process.getuid?.() !== 0) {
      console.log('cgroup run skipped: needs root');
      return ok;
    }
    const cgroup = makeMemoryCgroup(options.cgroupMiB * 1024 * 1024);
    if (typeof cgroup === 'string') {
      console.log(`cgroup run skipped: ${cgroup}`);
      return ok;
    }
    try {
      const cgMxPort = await freePort();
      const cgHttpPort = await freePort();
      const contained = await startRelay(await writeMxConfig(join(root, 'cgroup'), cgMxPort, cgHttpPort, sinkPort, options.inFlightBytes), cgMxPort, cgHttpPort, cgroup);
      const cgTally = await load(cgMxPort, options.cgroupSessions, bytes);
      const alive = contained.child.exitCode === null && contained.child.signalCode === null;
      const kills = cgroup.oomKills();
      const peak = cgroup.peakBytes();
      await contained.stop();
      const allAnswered = Object.entries(cgTally).every(([reply, count]) => count === 0 || /^(250|4\d\d)/.test(reply));
      console.log(`mxkit in a ${options.cgroupMiB} MiB memory cgroup (v${cgroup.version}): ${options.cgroupSessions} x ${options.megabytes} MB: replies ${JSON.stringify(cgTally)}; relay alive ${alive}; OOM kills ${kills}; cgroup peak ${peak === undefined ? 'n/a' : `${(peak / 1048576).toFixed(0)} MiB`} (page cache included)`);
      if (!allAnswered || !alive || kills > 0) {
        console.error('FAILED: every message must get 250 or 4xx and the relay must not be killed');
        ok = false;
      }
    } finally {
      cgroup.remove();
    }
    return ok;
  } finally {
    await sink.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

/** Peak VmRSS (resident set, what a memory cgroup and the OOM killer see) of one process, KiB. */
function samplePeakVmRss(pid: number): { stop(): number } {
  let peak = 0;
  const take = () => {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) peak = Math.max(peak, Number(match[1]));
    } catch {
      // exited
    }
  };
  take();
  const timer = setInterval(take, 100);
  return {
    stop() {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}
