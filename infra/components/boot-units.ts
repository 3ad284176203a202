/**
 * Containers and systemd units of the relay host, as plain values rendered to text. Each service
 * is one container (`docker run`) under one systemd unit; another service beside the relay is one
 * more ContainerSpec and one more `serviceUnit` call (see renderUserData's `services`).
 * Unit syntax: www.freedesktop.org/software/systemd/man/latest/systemd.service.html; docker run
 * flags: docs.docker.com/reference/cli/docker/container/run/.
 */
import { HOST_CONFIG_FILE, HOST_DATA_DIR, HOST_SECRETS_DIR } from '../builders/relay-config';
import { RELAY_NODE_OPTIONS } from '../../relay/src/ops/heap-mode';

export const BUNDLE_DIR_ON_HOST = '/opt/mxkit';
export const BUNDLE_PATH_ON_HOST = `${BUNDLE_DIR_ON_HOST}/mxkit.js`;
/** V8's code cache of the bundle, beside it (relay/src/code-cache/carried-program.ts codeCacheFile). */
export const CODE_CACHE_PATH_ON_HOST = `${BUNDLE_PATH_ON_HOST}.code-cache`;
export const PREPARE_SCRIPT = '/usr/local/libexec/mxkit-prepare';
export const SPOOL_MOUNT_SCRIPT = '/usr/local/libexec/mxkit-spool-mount';
/** The oneshot unit that mounts the spool volume; every unit using HOST_DATA_DIR requires it. */
export const SPOOL_UNIT = 'mxkit-spool.service';
export const RELAY_UNIT = 'mxkit-relay.service';

export interface BindMount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface ContainerSpec {
  /** Container name (`docker rm/stop` use it). */
  name: string;
  image: string;
  mounts: BindMount[];
  /** `--tmpfs` values, e.g. `/tmp:rw,noexec,nosuid,size=64m`. */
  tmpfs: string[];
  /** Capabilities kept; every other one is dropped. */
  capAdd: string[];
  /** Arguments after the image (the image's entrypoint runs them, or they replace its command). */
  command: string[];
}

/** The relay: the bundle in the official Node.js image, or a prebuilt image that carries it. */
export function relayContainer(image: string, withBundle: boolean): ContainerSpec {
  return {
    name: 'mxkit-relay',
    image,
    mounts: [
      { source: HOST_SECRETS_DIR, target: HOST_SECRETS_DIR, readOnly: true },
      { source: HOST_DATA_DIR, target: HOST_DATA_DIR, readOnly: false },
      // The folder, not the file: the code cache beside the bundle is read when it is there.
      ...(withBundle ? [{ source: BUNDLE_DIR_ON_HOST, target: BUNDLE_DIR_ON_HOST, readOnly: true }] : []),
    ],
    tmpfs: ['/tmp:rw,noexec,nosuid,size=64m'],
    capAdd: ['NET_BIND_SERVICE'],
    command: [...(withBundle ? ['node', ...RELAY_NODE_OPTIONS, BUNDLE_PATH_ON_HOST] : []), 'relay', '--config', HOST_CONFIG_FILE],
  };
}

/**
 * `mxkit code-cache` in the relay's own image (the same Node.js, hence a cache V8 takes) with the
 * relay's node options, writing the cache beside the bundle: the one container that may write
 * there. It starts and stops a relay on loopback free ports first (commands/code-cache.ts).
 */
export function codeCacheContainer(image: string): ContainerSpec {
  return {
    name: 'mxkit-code-cache',
    image,
    mounts: [{ source: BUNDLE_DIR_ON_HOST, target: BUNDLE_DIR_ON_HOST, readOnly: false }],
    tmpfs: ['/tmp:rw,noexec,nosuid,size=64m'],
    capAdd: [],
    command: ['node', ...RELAY_NODE_OPTIONS, BUNDLE_PATH_ON_HOST, 'code-cache'],
  };
}

/**
 * Host network (the relay sees real client addresses, for SPF and per-IP limits), read-only root,
 * every capability dropped but the ones asked for, no privilege gain. `--mount type=bind` rather
 * than `--volume`: a missing source is an error instead of an empty directory Docker creates on
 * the root volume (docs.docker.com/engine/storage/bind-mounts/#differences-between--v-and---mount-behavior).
 */
export function dockerRunCommand(container: ContainerSpec): string {
  const mount = (m: BindMount) => `--mount type=bind,source=${m.source},target=${m.target}${m.readOnly ? ',readonly' : ''}`;
  const args = [
    `/usr/bin/docker run --rm --name ${container.name} --network host`,
    `--read-only --cap-drop ALL ${container.capAdd.map((cap) => `--cap-add ${cap}`).join(' ')} --security-opt no-new-privileges`.replace(/ {2,}/g, ' '),
    `--pids-limit 512 ${container.tmpfs.map((t) => `--tmpfs ${t}`).join(' ')} --log-driver journald`,
    ...container.mounts.map(mount),
    container.image,
    ...(container.command.length ? [container.command.join(' ')] : []),
  ];
  return args.join(' \\\n  ');
}

export interface ServiceSpec {
  unit: string;
  description: string;
  container: ContainerSpec;
  /** Run before every start (a failure stops the start). */
  prepare: string[];
  /** Units this one needs started first (besides docker.service). */
  requires: string[];
}

export function serviceUnit(service: ServiceSpec): string {
  const needs = ['docker.service', ...service.requires];
  const usesData = service.container.mounts.some((m) => m.source === HOST_DATA_DIR);
  return `[Unit]
Description=${service.description}
Wants=network-online.target
After=network-online.target ${needs.join(' ')}
Requires=${needs.join(' ')}
${usesData ? `RequiresMountsFor=${HOST_DATA_DIR}\n` : ''}
[Service]
${service.prepare.map((line) => `ExecStartPre=${line}\n`).join('')}ExecStartPre=-/usr/bin/docker rm --force ${service.container.name}
ExecStart=${dockerRunCommand(service.container)}
ExecStop=/usr/bin/docker stop --time 60 ${service.container.name}
Restart=always
RestartSec=5
TimeoutStartSec=15min
TimeoutStopSec=90

[Install]
WantedBy=multi-user.target
`;
}

/**
 * Mounts the spool volume before anything uses it, at every boot. Oneshot + RemainAfterExit: the
 * units that Require it start only once it has succeeded, and never if it failed.
 */
export function spoolUnit(): string {
  return `[Unit]
Description=mxkit spool volume (format when blank, mount at ${HOST_DATA_DIR})
After=local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${SPOOL_MOUNT_SCRIPT}
TimeoutStartSec=15min
`;
}

export function relayService(image: string, withBundle: boolean): ServiceSpec {
  return {
    unit: RELAY_UNIT,
    description: 'mxkit SMTP relay',
    container: relayContainer(image, withBundle),
    prepare: [PREPARE_SCRIPT],
    requires: [SPOOL_UNIT],
  };
}
