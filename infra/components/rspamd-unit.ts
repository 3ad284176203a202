/**
 * rspamd beside the relay on the host: the official image (hub.docker.com/r/rspamd/rspamd, built
 * from github.com/rspamd/rspamd-docker) in its own container and systemd unit, on the host network
 * but bound to loopback only, with our small `local.d` (infra/builders/rspamd-config.ts) mounted
 * read-only. The unit is part of the relay's: starting, stopping or restarting mxkit-relay does the
 * same to it. Pure: values in, file texts out; user-data.ts puts them in the boot config.
 */
import { rspamdLocalConfig } from '../builders/rspamd-config';
import { RSPAMD_CONTROLLER_SOCKET, RSPAMD_SCAN_SOCKET } from '../builders/spam';

/**
 * The official rspamd image, pinned by digest so a re-pushed tag cannot change what runs (the tag
 * stays for readers). NOT verified from this build machine, which reaches no registry: it is the
 * pin another project recorded for rspamd/rspamd:4.1.2. Before the first deploy, and to refresh it,
 * take the multi-arch index digest (linux/amd64 + linux/arm64) from
 * `docker buildx imagetools inspect rspamd/rspamd:<version>` (the "Digest:" line), or override it
 * per stack with `mxkit:rspamdImage`.
 */
export const RSPAMD_IMAGE = 'rspamd/rspamd:4.1.2@sha256:15dfe447f8913516c4ff24933a0727aff53d88bf38ef1937fb74f5152568f496';

export const RSPAMD_CONFIG_DIR = '/etc/mxkit/rspamd/local.d';
export const RSPAMD_UNIT = 'mxkit-rspamd.service';

export interface RspamdBoot {
  image: string;
  flagScore: number;
  rejectScore: number | null;
}

export interface BootFile {
  path: string;
  permissions: string;
  content: string;
}

/** The container: loopback only, read-only root, no capabilities, bounded memory and processes. */
export function rspamdRunCommand(image: string): string {
  return [
    '/usr/bin/docker run --rm --name mxkit-rspamd --network host',
    '--read-only --cap-drop ALL --security-opt no-new-privileges',
    '--pids-limit 256 --memory 768m --tmpfs /tmp:rw,noexec,nosuid,size=64m --tmpfs /run/rspamd:rw,noexec,nosuid,size=16m',
    // Every worker on 127.0.0.1 (the image's default is all interfaces): nothing of rspamd faces the internet.
    '--env RSPAMD_LOCAL_ADDR=127.0.0.1 --log-driver journald',
    // Hyperscan caches and statistics survive restarts in a named volume (the image runs as 11333).
    `--volume mxkit-rspamd:/var/lib/rspamd --volume ${RSPAMD_CONFIG_DIR}:/etc/rspamd/local.d:ro`,
    image,
  ].join(' \\\n  ');
}

function unit(image: string): string {
  return `[Unit]
Description=rspamd spam filter for the mxkit relay
Wants=network-online.target
After=network-online.target docker.service
Requires=docker.service
Before=mxkit-relay.service
# Stopped and restarted with the relay; started by it (WantedBy below).
PartOf=mxkit-relay.service

[Service]
ExecStartPre=-/usr/bin/docker rm --force mxkit-rspamd
ExecStart=${rspamdRunCommand(image)}
ExecStop=/usr/bin/docker stop --time 30 mxkit-rspamd
Restart=always
RestartSec=5
TimeoutStartSec=15min

[Install]
WantedBy=mxkit-relay.service
`;
}

/** The rspamd config files and unit, for write_files. */
export function rspamdBootFiles(input: RspamdBoot): BootFile[] {
  const files = rspamdLocalConfig({
    scanSocket: RSPAMD_SCAN_SOCKET,
    controllerSocket: RSPAMD_CONTROLLER_SOCKET,
    flagScore: input.flagScore,
    rejectScore: input.rejectScore,
  });
  return [
    ...Object.entries(files).map(([name, content]) => ({ path: `${RSPAMD_CONFIG_DIR}/${name}`, permissions: '0644', content })),
    { path: `/etc/systemd/system/${RSPAMD_UNIT}`, permissions: '0644', content: unit(input.image) },
  ];
}
