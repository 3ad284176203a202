/**
 * The instance's boot configuration (cloud-init `#cloud-config`, cloudinit.readthedocs.io/en/latest/reference/modules.html).
 * Pure: plain values in, text out. It holds no secret: keys, certificates, the ACME account key,
 * user hashes and the relay config are read from SSM Parameter Store at every start of the relay
 * into /run (tmpfs), so they never touch the disk and never appear in the EC2 user data, which any
 * principal with ec2:DescribeInstanceAttribute can read.
 *
 * cloud-init runs `write_files` and `runcmd` once per instance; after that, systemd alone brings the
 * relay back at every boot: the spool unit mounts the volume, the relay unit requires it.
 * `npm run rehearse` executes this document on one machine (test/rehearsal/).
 */
import { HOST_DATA_DIR, HOST_SECRETS_DIR } from '../builders/relay-config';
import { BUNDLE_DIR_ON_HOST, BUNDLE_PATH_ON_HOST, CODE_CACHE_PATH_ON_HOST, codeCacheContainer, dockerRunCommand, PREPARE_SCRIPT, RELAY_UNIT, relayService, serviceUnit, SPOOL_MOUNT_SCRIPT, SPOOL_UNIT, spoolUnit } from './boot-units';
import { RSPAMD_UNIT, rspamdBootFiles, type RspamdBoot } from './rspamd-unit';
import { RELOAD_SCRIPT_PATH, reloadScript } from './config-reload';

export { BUNDLE_PATH_ON_HOST, dockerRunCommand, relayContainer } from './boot-units';

/**
 * Official Node.js 22 image (hub.docker.com/_/node), pinned by digest so a re-pushed tag cannot
 * change what runs; the tag stays for readers. Refresh with
 * `docker buildx imagetools inspect node:22-bookworm-slim` (the digest of the multi-arch index).
 */
export const NODE_IMAGE = 'node:22-bookworm-slim@sha256:43ac6c60b8f89723f746e8a92ce91abd5017e627ce1ddfe4238355d3a30b772c';
/** Device name in the block device mapping; Amazon Linux links the NVMe device to it (docs.aws.amazon.com/ebs/latest/userguide/nvme-ebs-volumes.html). */
export const SPOOL_DEVICE = '/dev/sdf';
/** The file system label the spool volume is formatted with, mounted by, and checked for. */
export const SPOOL_LABEL = 'mxkit-spool';
export const DEPLOY_ENV_FILE = '/etc/mxkit/deploy.env';

export interface BootConfigInput {
  region: string;
  /** SSM path prefix, e.g. /mxkit/mxkit/prod; each parameter is written to /run/mxkit/<name>. */
  parameterPrefix: string;
  parameterNames: string[];
  /**
   * The deployment's parameters, the same for every host (DKIM keys, the SRS key, the MTA-STS
   * policy): read like the host's own, from their own prefix; `refresh` of them again every minute.
   */
  shared?: { prefix: string; names: string[]; refresh: string[] };
  /** Absent when a prebuilt relay image (relay/Dockerfile) carries the bundle. */
  bundle?: { s3Uri: string; sha256: string };
  image: string;
  /** Changes with what the host runs (bundle or image); config changes are pushed, not booted (config-push.ts). */
  revision: string;
  /** rspamd beside the relay (mxkit:spam flag|reject); absent: none. */
  rspamd?: RspamdBoot;
}

const indent = (text: string, spaces: number) =>
  text
    .split('\n')
    .map((line) => (line === '' ? line : `${' '.repeat(spaces)}${line}`))
    .join('\n');

/** Only characters that need no quoting in shell or YAML end up in the env file. */
function assertPlain(name: string, value: string): string {
  if (!/^[A-Za-z0-9_./:@+=, -]*$/.test(value)) throw new Error(`boot config: ${name} contains characters that are not allowed: ${value}`);
  return value;
}

function deployEnv(input: BootConfigInput): string {
  const vars: Record<string, string> = {
    MXKIT_REGION: input.region,
    MXKIT_PARAMETER_PREFIX: input.parameterPrefix,
    MXKIT_PARAMETERS: input.parameterNames.join(' '),
    ...(input.shared
      ? { MXKIT_SHARED_PREFIX: input.shared.prefix, MXKIT_SHARED_PARAMETERS: input.shared.names.join(' '), MXKIT_REFRESH_PARAMETERS: input.shared.refresh.join(' ') }
      : {}),
    MXKIT_BUNDLE_S3: input.bundle?.s3Uri ?? '',
    MXKIT_BUNDLE_SHA256: input.bundle?.sha256 ?? '',
    MXKIT_REVISION: input.revision,
  };
  return Object.entries(vars)
    .map(([key, value]) => `${key}="${assertPlain(key, value)}"`)
    .join('\n');
}

/** Run by mxkit-spool.service at every boot; idempotent. */
export const SPOOL_MOUNT = `#!/bin/bash
# The spool is on its own encrypted EBS volume so that replacing the instance keeps queued mail,
# the SRS secret and ACME state. The volume is attached after the instance starts: wait for it
# (up to 10 minutes). Any failure here stops the relay from starting (its unit requires this one).
set -euo pipefail
device=""
for _ in $(seq 1 120); do
  for candidate in ${SPOOL_DEVICE} /dev/xvdf; do
    if [ -e "$candidate" ]; then device=$(readlink -f "$candidate"); break 2; fi
  done
  sleep 5
done
[ -n "$device" ] || { echo "mxkit: spool volume ${SPOOL_DEVICE} was never attached" >&2; exit 1; }
# Format only a blank volume: one carried over from a previous instance keeps its mail.
if ! blkid "$device" >/dev/null 2>&1; then mkfs.xfs -L ${SPOOL_LABEL} "$device"; fi
install -d -m 0755 ${HOST_DATA_DIR}
grep -q '^LABEL=${SPOOL_LABEL} ' /etc/fstab || echo 'LABEL=${SPOOL_LABEL} ${HOST_DATA_DIR} xfs defaults,nofail 0 2' >> /etc/fstab
mountpoint -q ${HOST_DATA_DIR} || mount ${HOST_DATA_DIR}
install -d -m 0700 ${HOST_DATA_DIR}/spool ${HOST_DATA_DIR}/acme
`;

/** Copies one SSM parameter to /run/mxkit/<name>, replacing the file in one rename (readers never see half). */
const FETCH = `fetch() {
  aws ssm get-parameter --region "$MXKIT_REGION" --name "$1/$2" \\
    --with-decryption --query Parameter.Value --output text > "${HOST_SECRETS_DIR}/$2.tmp"
  mv "${HOST_SECRETS_DIR}/$2.tmp" "${HOST_SECRETS_DIR}/$2"
}`;

/**
 * ExecStartPre of the relay: runs before every start, also after a crash or a reboot. `image`: the
 * relay's image, which makes the bundle's code cache (absent when a prebuilt image carries both).
 */
export function prepareScript(image: string | undefined): string {
  return `${PREPARE_HEAD}${image ? codeCacheStep(image) : ''}`;
}

/**
 * The bundle's code cache (`mxkit code-cache`, relay/src/code-cache/), made once per bundle: when
 * there is none or the bundle is newer. Without it the relay starts all the same, ~50 ms slower,
 * so a failure here is reported and the start goes on.
 */
function codeCacheStep(image: string): string {
  const container = codeCacheContainer(image);
  return `# V8's code cache of the bundle, made in the relay's own image (a cache of another Node.js is
# refused), once per bundle; the relay reads it read-only. Without one it compiles at every start.
if ! [ ${CODE_CACHE_PATH_ON_HOST} -nt ${BUNDLE_PATH_ON_HOST} ]; then
  rm -f ${CODE_CACHE_PATH_ON_HOST}
  /usr/bin/docker rm --force ${container.name} >/dev/null 2>&1 || true
  ${dockerRunCommand(container).replace(/\n/g, '\n  ')} \\
    || echo "mxkit: no code cache (the relay compiles its code at every start)" >&2
fi
`;
}

const PREPARE_HEAD = `#!/bin/bash
# Before every start of the relay: the spool volume is in place, secrets from SSM into tmpfs,
# the bundle from S3 (checked).
set -euo pipefail
. ${DEPLOY_ENV_FILE}
# Never start on the root volume: mail queued there is lost when the instance is replaced.
source=$(findmnt --noheadings --output SOURCE --mountpoint ${HOST_DATA_DIR} || true)
if [ -z "$source" ] || [ "$(blkid -s LABEL -o value "$source" 2>/dev/null || true)" != "${SPOOL_LABEL}" ]; then
  echo "mxkit: ${HOST_DATA_DIR} is not the spool volume (LABEL=${SPOOL_LABEL}); not starting the relay" >&2
  exit 1
fi
umask 077
install -d -m 0700 ${HOST_SECRETS_DIR}
${FETCH}
for name in $MXKIT_PARAMETERS; do fetch "$MXKIT_PARAMETER_PREFIX" "$name"; done
for name in \${MXKIT_SHARED_PARAMETERS:-}; do fetch "$MXKIT_SHARED_PREFIX" "$name"; done
# The bundle already here is used when it is the one this instance was made for: a restart or a
# reboot never depends on S3.
if [ -n "$MXKIT_BUNDLE_S3" ] && ! echo "$MXKIT_BUNDLE_SHA256  ${BUNDLE_PATH_ON_HOST}" | sha256sum --check --quiet --status 2>/dev/null; then
  install -d -m 0755 ${BUNDLE_DIR_ON_HOST}
  aws s3 cp --region "$MXKIT_REGION" --only-show-errors "$MXKIT_BUNDLE_S3" ${BUNDLE_PATH_ON_HOST}.tmp
  echo "$MXKIT_BUNDLE_SHA256  ${BUNDLE_PATH_ON_HOST}.tmp" | sha256sum --check --quiet
  chmod 0644 ${BUNDLE_PATH_ON_HOST}.tmp
  mv ${BUNDLE_PATH_ON_HOST}.tmp ${BUNDLE_PATH_ON_HOST}
fi
`;

/**
 * Every minute: the deployment's parameters that change while the hosts run (the MTA-STS policy
 * when a host is added or removed). The relay re-reads the file when it changes.
 */
export const REFRESH_SCRIPT = '/usr/local/libexec/mxkit-refresh';
export const REFRESH_TIMER = 'mxkit-refresh.timer';
export const REFRESH = `#!/bin/bash
set -euo pipefail
. ${DEPLOY_ENV_FILE}
umask 077
# Until the relay has started once, its own start fetches everything.
[ -d ${HOST_SECRETS_DIR} ] || exit 0
${FETCH}
for name in \${MXKIT_REFRESH_PARAMETERS:-}; do fetch "$MXKIT_SHARED_PREFIX" "$name"; done
`;
const REFRESH_SERVICE_UNIT = `[Unit]
Description=mxkit: refresh the deployment's changing parameters (MTA-STS policy)
After=network-online.target

[Service]
Type=oneshot
ExecStart=${REFRESH_SCRIPT}
`;
const REFRESH_TIMER_UNIT = `[Unit]
Description=mxkit: refresh the deployment's changing parameters every minute

[Timer]
OnBootSec=2min
OnUnitActiveSec=1min

[Install]
WantedBy=timers.target
`;

const unitPath = (unit: string) => `/etc/systemd/system/${unit}`;

export function renderUserData(input: BootConfigInput): string {
  const refresh = (input.shared?.refresh.length ?? 0) > 0;
  const file = (path: string, permissions: string, content: string) =>
    `  - path: ${path}\n    permissions: '${permissions}'\n    content: |\n${indent(content, 6)}`;
  return `#cloud-config
# mxkit relay host. No secrets in this file: they are read from SSM at every relay start.
# revision ${assertPlain('revision', input.revision)}
packages:
  - docker
write_files:
${file(DEPLOY_ENV_FILE, '0644', `${deployEnv(input)}\n`)}
${file(SPOOL_MOUNT_SCRIPT, '0755', SPOOL_MOUNT)}
${file(PREPARE_SCRIPT, '0755', prepareScript(input.bundle ? input.image : undefined))}
${file(RELOAD_SCRIPT_PATH, '0755', reloadScript())}
${file(unitPath(SPOOL_UNIT), '0644', spoolUnit())}
${file(unitPath(RELAY_UNIT), '0644', serviceUnit(relayService(input.image, input.bundle !== undefined)))}
${(input.rspamd ? rspamdBootFiles(input.rspamd) : []).map((extra) => `${file(extra.path, extra.permissions, extra.content)}\n`).join('')}${
    refresh
      ? `${file(REFRESH_SCRIPT, '0755', REFRESH)}\n${file(unitPath('mxkit-refresh.service'), '0644', REFRESH_SERVICE_UNIT)}\n${file(unitPath(REFRESH_TIMER), '0644', REFRESH_TIMER_UNIT)}\n`
      : ''
  }runcmd:
  - [systemctl, daemon-reload]
  - [systemctl, enable, --now, docker.service]
${input.rspamd ? `  - [systemctl, enable, ${RSPAMD_UNIT}]\n` : ''}  - [systemctl, enable, --now, ${RELAY_UNIT}]
${refresh ? `  - [systemctl, enable, --now, ${REFRESH_TIMER}]\n` : ''}`;
}
