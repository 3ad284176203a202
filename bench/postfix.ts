/**
 * Postfix as the baseline relay, run from its own config directory (no system service, no
 * chroot, loopback only): smtpd on 127.0.0.1:<port>, mynetworks = loopback, relayhost = the sink
 * (docs/benchmarks.md "Method"). Each setting was found necessary on these machines (no syslog, no
 * init system): maillog_file inside maillog_file_prefixes (without it `postfix start` exits 1
 * silently), data_directory owned by postfix, chroot off in master.cf, loopback-only interfaces.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitForBanner } from './net';

export interface PostfixRelay {
  port: number;
  configDir: string;
  masterPid(): number | undefined;
  stop(): Promise<void>;
}

function postfixUid(): { uid: number; gid: number } {
  return { uid: Number(execFileSync('id', ['-u', 'postfix']).toString()), gid: Number(execFileSync('id', ['-g', 'postfix']).toString()) };
}

/**
 * Starts Postfix from its own folders under `root` (a second start reuses the queue). `relayhost`
 * '' means none (then `extraMain` routes mail, e.g. with transport_maps).
 */
export async function startPostfix(root: string, port: number, relayhost: string, milterPort?: number, extraMain: readonly string[] = []): Promise<PostfixRelay> {
  const configDir = join(root, 'etc');
  const queueDir = join(root, 'queue');
  const dataDir = join(root, 'data');
  for (const dir of [configDir, queueDir, dataDir]) mkdirSync(dir, { recursive: true });
  // Postfix's daemons run as the postfix user and must reach their folders under ours.
  chmodSync(root, 0o755);
  const { uid, gid } = postfixUid();
  chownSync(dataDir, uid, gid);
  writeFileSync(
    join(configDir, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${queueDir}`,
      `data_directory = ${dataDir}`,
      'inet_interfaces = loopback-only',
      'inet_protocols = ipv4',
      'myhostname = baseline.bench.test',
      'mydestination =',
      'local_recipient_maps =',
      'mynetworks = 127.0.0.0/8',
      `relayhost = ${relayhost}`,
      'smtpd_relay_restrictions = permit_mynetworks, reject',
      'smtp_dns_support_level = disabled',
      'smtp_tls_security_level = none',
      `maillog_file = ${join(root, 'maillog')}`,
      `maillog_file_prefixes = ${root}`,
      'default_process_limit = 1200',
      'smtpd_client_connection_count_limit = 0',
      'smtpd_client_connection_rate_limit = 0',
      'smtp_destination_concurrency_limit = 20',
      // DKIM signing through OpenDKIM when given; a milter failure defers rather than sending unsigned.
      ...(milterPort === undefined ? [] : [`smtpd_milters = inet:127.0.0.1:${milterPort}`, 'milter_default_action = tempfail', 'milter_protocol = 6']),
      'default_destination_concurrency_limit = 20',
      ...extraMain,
      '',
    ].join('\n'),
  );
  // The distribution's master.cf, with chroot off everywhere and smtpd moved to our port.
  const master = readFileSync('/etc/postfix/master.cf', 'utf8')
    .split('\n')
    .map((line) => {
      const fields = line.split(/\s+/);
      if (line.startsWith('#') || fields.length < 8) return line;
      if (fields[0] === 'smtp' && fields[1] === 'inet') return `127.0.0.1:${port} inet n - n - - smtpd`;
      fields[4] = 'n';
      return fields.join(' ');
    })
    .join('\n');
  writeFileSync(join(configDir, 'master.cf'), master);
  execFileSync('postfix', ['-c', configDir, 'check'], { stdio: 'inherit' });
  execFileSync('postfix', ['-c', configDir, 'start'], { stdio: 'pipe' });
  await waitForBanner('127.0.0.1', port);
  const pidFile = join(queueDir, 'pid', 'master.pid');
  const readPid = (): number | undefined => {
    try {
      return Number(readFileSync(pidFile, 'utf8').trim());
    } catch {
      return undefined;
    }
  };
  return {
    port,
    configDir,
    masterPid: readPid,
    /** Stops Postfix and resolves once its master process is gone (its queue may be reused). */
    stop: async () => {
      const master = readPid();
      try {
        execFileSync('postfix', ['-c', configDir, 'stop'], { stdio: 'pipe' });
      } catch {
        // already stopped
      }
      while (master !== undefined && running(master)) await new Promise((resolve) => setTimeout(resolve, 50));
    },
  };
}

/** Whether a process is alive (a zombie waiting to be reaped is not). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Messages in Postfix's queue (every queue file under its queue folders). */
export function postfixQueued(root: string): number {
  const count = (dir: string): number => {
    if (!existsSync(dir)) return 0;
    return readdirSync(dir, { withFileTypes: true }).reduce((sum, entry) => sum + (entry.isDirectory() ? count(join(dir, entry.name)) : 1), 0);
  };
  return ['maildrop', 'incoming', 'active', 'deferred', 'hold'].reduce((sum, name) => sum + count(join(root, 'queue', name)), 0);
}
