/**
 * Where the rehearsal's stand-ins and their state live inside a rehearsed instance. The AMI dir is
 * what the rehearsal adds to the "image" the instance boots from (read-only); the rest is state
 * the stand-ins keep, in the places the real programs keep theirs.
 */
export const AMI_DIR = '/usr/lib/mxkit-rehearsal';
export const WORLD_FILE = `${AMI_DIR}/world.json`;
export const S3_DIR = `${AMI_DIR}/s3`;
export const LOG_DIR = '/var/log/mxkit-rehearsal';
/** One line per stand-in action; the rehearsal prints them as they come. */
export const STANDIN_LOG = `${LOG_DIR}/standins.log`;
/** systemd's runtime state: gone at every boot, like /run. */
export const SYSTEMD_STATE = '/run/systemd-standin';
export const UNIT_DIR = '/etc/systemd/system';
export const DOCKER_STATE = '/run/docker-standin';
/** The "pulled" images: a read-only Debian root and, per image, the Node.js binary it carries. */
export const DOCKER_DATA = '/var/lib/docker-standin';
export const IMAGE_ROOTFS = `${DOCKER_DATA}/rootfs`;
export const IMAGE_CATALOG = `${DOCKER_DATA}/images.json`;
/** Named volumes (docker's /var/lib/docker/volumes/<name>/_data). */
export const VOLUMES_DIR = `${DOCKER_DATA}/volumes`;
/** What systemd gives every unit (systemd.exec(7), "Environment variables in spawned processes"). */
export const UNIT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin';

/** What the aws stand-in knows: exactly what the mocks recorded. */
export interface StandinWorld {
  region: string;
  account: string;
  /** SSM parameter name → value (aws.ssm.Parameter). */
  ssm: Record<string, string>;
  /** s3://bucket/key → file name under S3_DIR (aws.s3.BucketObjectv2). */
  s3: Record<string, string>;
  /** The instance role's policy document (aws.iam.RolePolicy). */
  instancePolicy: string;
}

/**
 * An image the docker stand-in can run: this machine's Debian root (both official images are
 * Debian bookworm based), plus what the image adds.
 */
export interface ImageEntry {
  /** Directory mounted at /usr/local/bin (the Node.js image's `node`); absent: the root's own. */
  bin?: string;
  /** How to start a `node` of this architecture on this machine (qemu for arm64). */
  execPrefix: string[];
  /** The image's USER (`uid:gid`); default root. */
  user?: string;
  /** The image's CMD, for a `docker run` that gives none. */
  command?: string[];
  description: string;
}
