/**
 * One rehearsed EC2 instance. Its root volume is an overlay over this machine's root (writes go to
 * the instance's own directory, so a reboot keeps them and a replacement starts clean); /run and
 * /tmp are fresh at every boot; /dev holds the usual nodes and, once attached, the spool volume
 * (a loop device) linked from /dev/sdf as on Nitro instances. cloud-init's first boot and later
 * boots are played by `firstBoot` and `boot`; `shutdown` stops the units and unmounts everything.
 * Runs inside the rehearsal's mount and network namespaces, as root.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SPOOL_DEVICE } from '../../infra/components/user-data';
import { parseCloudConfig } from './cloud-init';
import { detail } from './log';
import { run, runAsync, type Ran } from './shell';
import { AMI_DIR, DOCKER_DATA, IMAGE_CATALOG, IMAGE_ROOTFS, LOG_DIR, SYSTEMD_STATE, UNIT_DIR, UNIT_PATH, type ImageEntry } from './standins/paths';

export interface InstanceOptions {
  /** Where this instance's root volume lives. */
  dir: string;
  /** The rehearsal's additions to the image (stand-ins, the recorded world), mounted at AMI_DIR. */
  amiDir: string;
  /** Images the Docker stand-in "pulls": reference → what it adds to the Debian root (a `node` in hostBin). */
  images: Record<string, ImageEntry & { hostBin?: string }>;
  hostname: string;
  /** The instance's network namespace (/run/netns/<name>): its public address, a route out. */
  netns: string;
  /** The resolver the instance is given (the VPC's DNS). */
  resolver: string;
}

const CONTAINER_BIN = (key: string) => `${DOCKER_DATA}/images/${key}`;
const imageKey = (description: string) => description.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
/** Instance paths that start empty instead of showing this machine's files, and their directory on the instance's volume. */
const OWN_DIRS: Record<string, string> = { '/usr/local': 'usr-local', [UNIT_DIR]: 'systemd-units' };

export class Instance {
  readonly root: string;
  private spoolDevice?: string;
  private mounted = false;

  constructor(private readonly options: InstanceOptions) {
    this.root = join(options.dir, 'root');
  }

  private path(inside: string): string {
    return join(this.root, inside);
  }

  /** Runs a command on the instance: its network, its root (chroot), systemd's PATH. */
  exec(argv: readonly string[], input?: string): Promise<Ran> {
    return runAsync(['nsenter', `--net=/run/netns/${this.options.netns}`, 'chroot', this.root, ...argv], { env: { PATH: UNIT_PATH }, input, cwd: '/' });
  }

  /** The spool EBS volume appears (VolumeAttachment): /dev/<loop> and the /dev/sdf link to it. */
  attachVolume(device: string): void {
    this.spoolDevice = device;
    if (this.mounted) this.linkVolume();
  }

  private linkVolume(): void {
    if (!this.spoolDevice) return;
    const name = this.spoolDevice.replace('/dev/', '');
    const node = this.path(`/dev/${name}`);
    writeFileSync(node, '');
    run(['mount', '--bind', this.spoolDevice, node]);
    run(['ln', '-sf', name, this.path(SPOOL_DEVICE)]);
  }

  /** Power on: the root volume and the boot-time file systems (not yet systemd's units). */
  private powerOn(): void {
    const { dir } = this.options;
    const fresh = !existsSync(join(dir, 'upper'));
    for (const sub of ['upper', 'ovl-work', ...Object.values(OWN_DIRS)]) mkdirSync(join(dir, sub), { recursive: true });
    mkdirSync(this.root, { recursive: true });
    run(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=/,upperdir=${join(dir, 'upper')},workdir=${join(dir, 'ovl-work')}`, this.root]);
    this.mounted = true;
    // Directories where this machine's own files would act on the instance (its units, the tools
    // in /usr/local that would shadow the stand-ins): the instance's own, empty at first.
    for (const [inside, own] of Object.entries(OWN_DIRS)) run(['mount', '--bind', join(dir, own), this.path(inside)]);
    if (fresh) writeFileSync(this.path('/etc/fstab'), '# /etc/fstab of a rehearsed instance (the root file system is the overlay)\n');
    run(['mount', '-t', 'proc', 'proc', this.path('/proc')]);
    run(['mount', '--rbind', '/sys', this.path('/sys')]);
    run(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', this.path('/run')]);
    run(['mount', '-t', 'tmpfs', '-o', 'mode=1777', 'tmpfs', this.path('/tmp')]);
    run(['mount', '-t', 'tmpfs', '-o', 'mode=0755,nosuid', 'tmpfs', this.path('/dev')]);
    for (const node of ['null', 'zero', 'full', 'random', 'urandom', 'tty']) {
      writeFileSync(this.path(`/dev/${node}`), '');
      run(['mount', '--bind', `/dev/${node}`, this.path(`/dev/${node}`)]);
    }
    mkdirSync(this.path('/dev/shm'));
    run(['mount', '-t', 'tmpfs', 'tmpfs', this.path('/dev/shm')]);
    for (const [link, target] of [['fd', '/proc/self/fd'], ['stdin', '/proc/self/fd/0'], ['stdout', '/proc/self/fd/1'], ['stderr', '/proc/self/fd/2']]) run(['ln', '-s', target, this.path(`/dev/${link}`)]);
    this.linkVolume();
    mkdirSync(this.path(AMI_DIR), { recursive: true });
    run(['mount', '--bind', this.options.amiDir, this.path(AMI_DIR)]);
    run(['mount', '-o', 'remount,bind,ro', this.path(AMI_DIR)]);
    // The VPC resolver (the rehearsal's DNS) and the instance's own name.
    writeFileSync(this.path('/etc/resolv.conf'), `nameserver ${this.options.resolver}\n`);
    writeFileSync(this.path('/etc/hosts'), `127.0.0.1 localhost\n::1 localhost\n`);
    mkdirSync(this.path(LOG_DIR), { recursive: true });
  }

  /** What the `packages: [docker]` module leaves: the engine (stand-in) and its pulled images. */
  private installDocker(): void {
    this.standin('docker');
    mkdirSync(this.path(IMAGE_ROOTFS), { recursive: true });
    const catalog: Record<string, ImageEntry> = {};
    for (const [reference, { hostBin, ...image }] of Object.entries(this.options.images)) {
      catalog[reference] = { ...image, ...(hostBin ? { bin: CONTAINER_BIN(imageKey(image.description)) } : {}) };
    }
    writeFileSync(this.path(IMAGE_CATALOG), JSON.stringify(catalog, null, 2));
    this.mountImages();
  }

  /** The images' files: a read-only view of this machine's Debian root and each Node.js build. */
  private mountImages(): void {
    if (!existsSync(this.path(IMAGE_CATALOG))) return;
    run(['mount', '--bind', '/', this.path(IMAGE_ROOTFS)]);
    run(['mount', '-o', 'remount,bind,ro', this.path(IMAGE_ROOTFS)]);
    for (const image of Object.values(this.options.images)) {
      if (!image.hostBin) continue;
      const bin = this.path(CONTAINER_BIN(imageKey(image.description)));
      mkdirSync(bin, { recursive: true });
      run(['mount', '--bind', image.hostBin, bin]);
      run(['mount', '-o', 'remount,bind,ro', bin]);
    }
  }

  /** A stand-in program in the image, e.g. /usr/bin/aws. */
  private standin(tool: string): void {
    const file = this.path(`/usr/bin/${tool}`);
    writeFileSync(file, `#!/bin/sh\nexec ${AMI_DIR}/node ${AMI_DIR}/standins.cjs ${tool} "$@"\n`);
    chmodSync(file, 0o755);
  }

  /** First boot of a new instance: the AMI's tools, then cloud-init (packages, write_files, runcmd). */
  async firstBoot(userData: string): Promise<Ran> {
    this.powerOn();
    this.standin('aws');
    this.standin('systemctl');
    const config = parseCloudConfig(userData);
    for (const name of config.packages) {
      if (name !== 'docker') throw new Error(`package ${name} is not rehearsed`);
      this.installDocker();
      detail('cloud-init packages: docker (the Docker stand-in, with the pinned Node.js image)');
    }
    for (const file of config.writeFiles) {
      const target = this.path(file.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, file.content);
      chmodSync(target, parseInt(file.permissions, 8));
      detail(`cloud-init write_files: ${file.path} (${file.permissions})`);
    }
    const script = '/var/lib/cloud/instance/scripts/runcmd';
    mkdirSync(this.path(dirname(script)), { recursive: true });
    writeFileSync(this.path(script), config.runcmdScript, { mode: 0o700 });
    detail(`cloud-init runcmd: ${config.runcmdScript.split('\n').slice(1).filter(Boolean).join('; ')}`);
    const result = await this.exec(['/bin/sh', script]);
    writeFileSync(this.path('/var/log/cloud-init-output.log'), result.stdout + result.stderr);
    return result;
  }

  /** The root volume and boot file systems only, no unit started (to look at a host that is off). */
  powerOnOnly(): void {
    this.powerOn();
    this.mountImages();
  }

  /** A later boot: cloud-init stays quiet; systemd mounts /etc/fstab and starts the enabled units. */
  async boot(): Promise<void> {
    this.powerOn();
    this.mountImages();
    for (const line of readFileSync(this.path('/etc/fstab'), 'utf8').split('\n')) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4 || fields[0].startsWith('#')) continue;
      const mounted = await this.exec(['mount', fields[1]]);
      detail(`systemd: ${fields[1]} from /etc/fstab ${mounted.status === 0 ? 'mounted' : `not mounted${fields[3].split(',').includes('nofail') ? ' (nofail)' : ''}: ${mounted.stderr.trim()}`}`);
    }
    const wants = this.path(`${UNIT_DIR}/multi-user.target.wants`);
    const units = existsSync(wants) ? readdirSync(wants).sort((a, b) => Number(b === 'docker.service') - Number(a === 'docker.service')) : [];
    for (const unit of units) {
      const started = await this.exec(['systemctl', 'start', unit]);
      detail(`systemd: start ${unit}: ${started.status === 0 ? 'ok' : `failed: ${started.stderr.trim()}`}`);
    }
  }

  /** Power off: every unit stopped (dependents first), then every file system unmounted. */
  async shutdown(): Promise<void> {
    if (!this.mounted) return;
    const state = this.path(SYSTEMD_STATE);
    const active = existsSync(state) ? readdirSync(state).map((f) => f.replace(/\.json$/, '')) : [];
    for (const unit of active.filter((u) => u !== 'docker.service')) await this.exec(['systemctl', 'stop', unit]);
    await this.exec(['systemctl', 'stop', 'docker.service']);
    const result = spawnSync('umount', ['-R', this.root], { encoding: 'utf8' });
    if (result.status !== 0) run(['umount', '-R', '-l', this.root]);
    this.mounted = false;
  }

  /** A file of the instance's root volume (or what is mounted there while it runs). */
  read(inside: string): string {
    return readFileSync(this.path(inside), 'utf8');
  }

  log(unit: string): string {
    const file = this.path(`${LOG_DIR}/${unit}.log`);
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }
}
