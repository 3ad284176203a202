/**
 * How the docker stand-in makes a container out of a `docker run` line: a new mount namespace
 * whose root is a tmpfs holding read-only binds of the image (this machine's Debian root, plus the
 * image's Node.js at /usr/local/bin), the run's bind mounts and tmpfs, /proc, a minimal /dev, the
 * instance's resolv.conf/hosts (as `--network host` gives), root remounted read-only for
 * `--read-only`, then chroot and setpriv with exactly the capabilities the flags leave and
 * no_new_privs. Everything is one exec chain, so the process docker waits for is the program.
 */
import type { ContainerRun } from './docker-args';
import { IMAGE_ROOTFS, VOLUMES_DIR, type ImageEntry } from './paths';

/** What the official node image sets (hub.docker.com/_/node, Dockerfile ENV). */
export const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** Where a mount's source is on the host: a named volume lives under Docker's data root. */
export function mountSource(mount: { source: string; named?: boolean }): string {
  return mount.named ? `${VOLUMES_DIR}/${mount.source}/_data` : mount.source;
}

/** `--cap-drop ALL --cap-add NET_BIND_SERVICE` → setpriv's `-all,+net_bind_service`. */
export function boundingSet(run: ContainerRun): string {
  if (!run.capDrop.includes('ALL')) throw new Error('docker stand-in: only --cap-drop ALL (then --cap-add) is emulated');
  return ['-all', ...run.capAdd.map((cap) => `+${cap.toLowerCase().replace(/^cap_/, '')}`)].join(',');
}

/** The container's argv: `node` becomes the image's binary, started the way its architecture needs. */
export function containerCommand(command: readonly string[], image: ImageEntry): string[] {
  const argv = command.length > 0 ? command : (image.command ?? []);
  if (argv.length === 0) throw new Error('docker stand-in: the image has no default command here; give one');
  return argv[0] === 'node' && image.execPrefix.length > 0 ? [...image.execPrefix, '/usr/local/bin/node', ...argv.slice(1)] : [...argv];
}

/** setpriv's options for the image's USER, the flags' capabilities and no_new_privs. */
export function privileges(run: ContainerRun, image: ImageEntry): string[] {
  const [uid, gid] = (image.user ?? '0:0').split(':');
  return [
    ...(uid !== '0' ? [`--reuid=${uid}`, `--regid=${gid ?? uid}`, '--clear-groups'] : []),
    ...(run.securityOpt.includes('no-new-privileges') ? ['--no-new-privs'] : []),
    '--inh-caps', '-all',
    '--bounding-set', boundingSet(run),
  ];
}

export function containerScript(run: ContainerRun, image: ImageEntry, root: string, hostname: string): string {
  const lines = [
    'set -euo pipefail',
    'mount --make-rprivate /',
    `root=${quote(root)}`,
    'mkdir -p "$root" && mount -t tmpfs -o mode=0755 tmpfs "$root"',
    `image=${quote(IMAGE_ROOTFS)}`,
    // The image: its /usr and /etc read-only; merged-/usr symlinks as the image has them.
    'for d in usr etc; do mkdir "$root/$d"; mount --bind "$image/$d" "$root/$d"; mount -o remount,bind,ro "$root/$d"; done',
    'for d in bin sbin lib lib32 lib64 libx32; do if [ -L "$image/$d" ]; then ln -s "$(readlink "$image/$d")" "$root/$d"; fi; done',
    ...(image.bin ? [`mount --bind ${quote(image.bin)} "$root/usr/local/bin"; mount -o remount,bind,ro "$root/usr/local/bin"`] : []),
    'mkdir -p "$root/proc" "$root/dev" "$root/run" "$root/var" "$root/tmp"',
    'mount -t proc proc "$root/proc"',
    'mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"',
    'for n in null zero full random urandom tty; do touch "$root/dev/$n"; mount --bind "/dev/$n" "$root/dev/$n"; done',
    'mkdir "$root/dev/shm" && mount -t tmpfs -o nosuid,nodev tmpfs "$root/dev/shm"',
    'ln -s /proc/self/fd "$root/dev/fd"; ln -s /proc/self/fd/0 "$root/dev/stdin"; ln -s /proc/self/fd/1 "$root/dev/stdout"; ln -s /proc/self/fd/2 "$root/dev/stderr"',
    // --network host: the host's name service files (docs.docker.com/engine/network/drivers/host/).
    'for f in resolv.conf hosts; do mount --bind "/etc/$f" "$root/etc/$f"; done',
    ...run.tmpfs.map((t) => `mkdir -p "$root"${quote(t.target)} && mount -t tmpfs -o ${quote(t.options || 'rw')} tmpfs "$root"${quote(t.target)}`),
    ...run.mounts.flatMap((m) => [
      // A target inside the image's read-only /etc or /usr must already exist there.
      `if [ -e "$root"${quote(m.target)} ]; then :; elif [ -d ${quote(mountSource(m))} ]; then mkdir -p "$root"${quote(m.target)}; else mkdir -p "$(dirname "$root"${quote(m.target)})"; touch "$root"${quote(m.target)}; fi`,
      `mount --bind ${quote(mountSource(m))} "$root"${quote(m.target)}`,
      ...(m.readOnly ? [`mount -o remount,bind,ro "$root"${quote(m.target)}`] : []),
    ]),
    ...(run.readOnly ? ['mount -o remount,ro "$root"'] : []),
    [
      'exec chroot "$root" /usr/bin/env -i',
      quote(`PATH=${IMAGE_PATH}`),
      quote(`HOSTNAME=${hostname}`),
      ...run.env.map(quote),
      '/usr/bin/setpriv',
      ...privileges(run, image),
      '--',
      ...containerCommand(run.command, image).map(quote),
    ].join(' '),
  ];
  return `${lines.join('\n')}\n`;
}
