/**
 * The instance's boot configuration (cloud-init `#cloud-config`, cloudinit.readthedocs.io/en/latest/reference/modules.html).
 * Pure: plain values in, text out. It holds no secret: keys, certificates, the ACME account key,
 * user hashes and the relay config are read from SSM Parameter Store at every start of the relay
 * into /run (tmpfs), so they never touch the disk and never appear in the EC2 user data, which any
 * principal with ec2:DescribeInstanceAttribute can read.
 */
import { HOST_CONFIG_FILE, HOST_DATA_DIR, HOST_SECRETS_DIR } from '../builders/relay-config';
import { RSPAMD_UNIT, rspamdBootFiles, type RspamdBoot } from './rspamd-unit';

/**
 * Official Node.js 22 image (hub.docker.com/_/node), pinned by digest so a re-pushed tag cannot
 * change what runs; the tag stays for readers. Refresh with
 * `docker buildx imagetools inspect node:22-bookworm-slim` (the digest of the multi-arch index).
 */
export const NODE_IMAGE = 'node:22-bookworm-slim@sha256:43ac6c60b8f89723f746e8a92ce91abd5017e627ce1ddfe4238355d3a30b772c';
/** Device name in the block device mapping; Amazon Linux links the NVMe device to it (docs.aws.amazon.com/ebs/latest/userguide/nvme-ebs-volumes.html). */
export const SPOOL_DEVICE = '/dev/sdf';
export const BUNDLE_PATH_ON_HOST = '/opt/mxkit/mxkit.js';

export interface BootConfigInput {
  region: string;
  /** SSM path prefix, e.g. /mxkit/prod; each parameter is written to /run/mxkit/<name>. */
  parameterPrefix: string;
  parameterNames: string[];
  /** Absent when a prebuilt relay image (relay/Dockerfile) carries the bundle. */
  bundle?: { s3Uri: string; sha256: string };
  image: string;
  /** Changes whenever the relay config or a secret changes, so the instance is replaced and the relay redeployed. */
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
    MXKIT_BUNDLE_S3: input.bundle?.s3Uri ?? '',
    MXKIT_BUNDLE_SHA256: input.bundle?.sha256 ?? '',
    MXKIT_REVISION: input.revision,
  };
  return Object.entries(vars)
    .map(([key, value]) => `${key}="${assertPlain(key, value)}"`)
    .join('\n');
}

const SPOOL_MOUNT = `#!/bin/bash
# The spool is on its own encrypted EBS volume so that replacing the instance keeps queued mail.
# The volume is attached after the instance starts: wait for it (up to 10 minutes).
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
if ! blkid "$device" >/dev/null 2>&1; then mkfs.xfs -L mxkit-spool "$device"; fi
install -d -m 0755 ${HOST_DATA_DIR}
grep -q '^LABEL=mxkit-spool ' /etc/fstab || echo 'LABEL=mxkit-spool ${HOST_DATA_DIR} xfs defaults,nofail 0 2' >> /etc/fstab
mountpoint -q ${HOST_DATA_DIR} || mount ${HOST_DATA_DIR}
install -d -m 0700 ${HOST_DATA_DIR}/spool ${HOST_DATA_DIR}/acme
`;

const PREPARE = `#!/bin/bash
# Before every start of the relay: secrets from SSM into tmpfs, the bundle from S3 (checked).
set -euo pipefail
. /etc/mxkit/deploy.env
umask 077
install -d -m 0700 ${HOST_SECRETS_DIR}
for name in $MXKIT_PARAMETERS; do
  aws ssm get-parameter --region "$MXKIT_REGION" --name "$MXKIT_PARAMETER_PREFIX/$name" \\
    --with-decryption --query Parameter.Value --output text > "${HOST_SECRETS_DIR}/$name.tmp"
  mv "${HOST_SECRETS_DIR}/$name.tmp" "${HOST_SECRETS_DIR}/$name"
done
if [ -n "$MXKIT_BUNDLE_S3" ]; then
  install -d -m 0755 /opt/mxkit
  aws s3 cp --region "$MXKIT_REGION" --only-show-errors "$MXKIT_BUNDLE_S3" ${BUNDLE_PATH_ON_HOST}.tmp
  echo "$MXKIT_BUNDLE_SHA256  ${BUNDLE_PATH_ON_HOST}.tmp" | sha256sum --check --quiet
  chmod 0644 ${BUNDLE_PATH_ON_HOST}.tmp
  mv ${BUNDLE_PATH_ON_HOST}.tmp ${BUNDLE_PATH_ON_HOST}
fi
`;

/**
 * The container: host network (the relay sees real client addresses, for SPF and per-IP limits),
 * read-only root, every capability dropped except binding ports below 1024, no privilege gain.
 */
export function dockerRunCommand(image: string, withBundle: boolean): string {
  const args = [
    '/usr/bin/docker run --rm --name mxkit-relay --network host',
    '--read-only --cap-drop ALL --cap-add NET_BIND_SERVICE --security-opt no-new-privileges',
    '--pids-limit 512 --tmpfs /tmp:rw,noexec,nosuid,size=64m --log-driver journald',
    `--volume ${HOST_SECRETS_DIR}:${HOST_SECRETS_DIR}:ro --volume ${HOST_DATA_DIR}:${HOST_DATA_DIR}`,
    ...(withBundle ? [`--volume ${BUNDLE_PATH_ON_HOST}:${BUNDLE_PATH_ON_HOST}:ro`] : []),
    image,
    ...(withBundle ? [`node ${BUNDLE_PATH_ON_HOST}`] : []),
    `relay --config ${HOST_CONFIG_FILE}`,
  ];
  return args.join(' \\\n  ');
}

function unit(input: BootConfigInput): string {
  return `[Unit]
Description=mxkit SMTP relay
Wants=network-online.target
After=network-online.target docker.service
Requires=docker.service
RequiresMountsFor=${HOST_DATA_DIR}

[Service]
ExecStartPre=/usr/local/libexec/mxkit-prepare
ExecStartPre=-/usr/bin/docker rm --force mxkit-relay
ExecStart=${dockerRunCommand(input.image, input.bundle !== undefined)}
ExecStop=/usr/bin/docker stop --time 60 mxkit-relay
Restart=always
RestartSec=5
TimeoutStartSec=15min
TimeoutStopSec=90

[Install]
WantedBy=multi-user.target
`;
}

export function renderUserData(input: BootConfigInput): string {
  const file = (path: string, permissions: string, content: string) =>
    `  - path: ${path}\n    permissions: '${permissions}'\n    content: |\n${indent(content, 6)}`;
  return `#cloud-config
# mxkit relay host. No secrets in this file: they are read from SSM at every relay start.
# revision ${assertPlain('revision', input.revision)}
packages:
  - docker
write_files:
${file('/etc/mxkit/deploy.env', '0644', `${deployEnv(input)}\n`)}
${file('/usr/local/libexec/mxkit-spool-mount', '0755', SPOOL_MOUNT)}
${file('/usr/local/libexec/mxkit-prepare', '0755', PREPARE)}
${file('/etc/systemd/system/mxkit-relay.service', '0644', unit(input))}
${(input.rspamd ? rspamdBootFiles(input.rspamd) : []).map((extra) => `${file(extra.path, extra.permissions, extra.content)}\n`).join('')}runcmd:
  - [systemctl, daemon-reload]
  - [systemctl, enable, --now, docker.service]
  - [/usr/local/libexec/mxkit-spool-mount]
${input.rspamd ? `  - [systemctl, enable, ${RSPAMD_UNIT}]\n` : ''}  - [systemctl, enable, --now, mxkit-relay.service]
`;
}
