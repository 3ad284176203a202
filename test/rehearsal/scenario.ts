/**
 * The rehearsal inside its namespaces (this process is their PID 1): the outside world, then
 * instance 1 (Node 22 x64) boots from the user data with rspamd beside the relay, passes
 * `mxkit check`, delivers a DKIM-signed message, takes config pushes through the SSM document (a new
 * user over SIGHUP, a refused config that changes nothing) and refuses GTUBE; mail queues and survives a
 * reboot; then instance 2 (Node 22 arm64, under qemu) replaces it on the same spool volume,
 * delivers the queue, and takes a message over STARTTLS.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hashPassword } from '../../relay/src/intake/password';
import { join } from 'node:path';
import { RSPAMD_IMAGE } from '../../infra/components/rspamd-unit';
import { NODE_IMAGE } from '../../infra/components/user-data';
import { detail, step } from './log';
import { sendUnauthenticated, submit, verifyDkim } from './mail';
import { containerFacts } from './container-facts';
import { Instance } from './instance';
import { OUTSIDE_DOMAIN, OUTSIDE_IP, startDns, startOutsideServer, type OutsideServer } from './outside';
import { run, runAsync } from './shell';
import { STANDIN_LOG } from './standins/paths';
import type { RehearsalWorld } from './world';

export interface InsidePlan {
  work: string;
  loopDevice: string;
  /** Directories holding the Node.js 22 `node` binaries. */
  nodeBin: { x64: string; arm64: string };
  /** dist/mxkit.js, for `mxkit check` run from outside the instance. */
  bundle: string;
  /** The rehearsal's additions to the instance image (stand-ins, the recorded world, s3/). */
  amiDir: string;
}

const QEMU = ['/usr/bin/qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'];
const INSTANCE_NETNS = 'mxkit-instance';
const CONFIG = '/run/mxkit/relay.json';

/** Another address in the Elastic IP's /24: the instance's gateway, where "the internet" (and its DNS) is. */
function gatewayFor(publicIp: string): string {
  const parts = publicIp.split('.');
  return [...parts.slice(0, 3), parts[3] === '1' ? '2' : '1'].join('.');
}

class Rehearsal {
  private readonly shown = new Map<Instance, number>();

  constructor(
    private readonly world: RehearsalWorld,
    private readonly plan: InsidePlan,
    readonly outside: OutsideServer,
  ) {}

  instance(index: number, arch: 'x64' | 'arm64'): Instance {
    const image = arch === 'x64'
      ? { hostBin: this.plan.nodeBin.x64, execPrefix: [], description: 'Node.js 22 linux-x64' }
      : { hostBin: this.plan.nodeBin.arm64, execPrefix: QEMU, description: 'Node.js 22 linux-arm64 under qemu-user' };
    // The official rspamd image is Debian bookworm with rspamd, USER 11333, CMD rspamd -f
    // (github.com/rspamd/rspamd-docker, Dockerfile): this machine's Debian rspamd plays it.
    const rspamd = { execPrefix: [], user: '11333:11333', command: ['/usr/bin/rspamd', '-f'], description: `this machine's Debian rspamd (x86-64) for ${RSPAMD_IMAGE.split('@')[0]}` };
    return new Instance({
      dir: join(this.plan.work, `instance-${index}`),
      amiDir: this.plan.amiDir,
      images: { [NODE_IMAGE]: image, [RSPAMD_IMAGE]: rspamd },
      hostname: this.world.hostname,
      netns: INSTANCE_NETNS,
      resolver: gatewayFor(this.world.publicIp),
    });
  }

  /** Prints what the stand-ins did since last time (aws, systemd, docker lines). */
  showStandins(instance: Instance): void {
    let text = '';
    try {
      text = instance.read(STANDIN_LOG);
    } catch {
      return;
    }
    const lines = text.split('\n').filter(Boolean);
    for (const line of lines.slice(this.shown.get(instance) ?? 0)) detail(line);
    this.shown.set(instance, lines.length);
  }

  /** Ready as an operator sees it on the host: `curl -s 127.0.0.1:8025/readyz`. */
  async relayReady(instance: Instance, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await instance.exec(['curl', '-sf', 'http://127.0.0.1:8025/readyz'])).status === 0) return;
      const active = await instance.exec(['systemctl', 'is-active', 'mxkit-relay.service']);
      if (active.status !== 0 || Date.now() > deadline) {
        this.showStandins(instance);
        throw new Error(`the relay did not become ready (${active.stdout.trim()}):\n${instance.log('mxkit-relay.service').slice(-4000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Ready, and which Node.js on which CPU runs it (asked inside the container). */
  async relayUp(instance: Instance, timeoutMs: number): Promise<void> {
    await this.relayReady(instance, timeoutMs);
    this.showStandins(instance);
    const node = await instance.exec(['docker', 'exec', 'mxkit-relay', 'node', '-p', '`Node.js ${process.version} on ${process.arch}`']);
    if (node.status !== 0) throw new Error(`docker exec mxkit-relay node failed: ${node.stderr}`);
    detail(`relay ready on ${this.world.publicIp} (curl 127.0.0.1:8025/readyz on the host); in the container: ${node.stdout.trim()}`);
    // CAP_NET_BIND_SERVICE is bit 10 (linux/capability.h).
    const relay = containerFacts(instance, 'mxkit-relay', { mounts: [['/', 'ro'], ['/run/mxkit', 'ro'], ['/opt/mxkit', 'ro'], ['/var/lib/mxkit', 'rw'], ['/tmp', 'rw']], capabilities: '0000000000000400', uid: '0' });
    if (!relay.argv.endsWith('/opt/mxkit/mxkit.js relay --config /run/mxkit/relay.json')) throw new Error(`the relay runs as "${relay.argv}"`);
    detail(`the relay process: "${relay.argv}"; ${relay.summary}`);
    // The bundle's code cache, made by the prepare step in the relay's image (Node.js 22 of the
    // instance's CPU), is what the relay compiled from: an operator's check of /metrics.
    const metrics = await instance.exec(['curl', '-sf', 'http://127.0.0.1:8025/metrics']);
    const codeCache = /^mxkit_code_cache_info\{status="([^"]+)"\} 1$/m.exec(metrics.stdout)?.[1] ?? 'not reported';
    if (codeCache !== 'used') throw new Error(`the relay started without the bundle's code cache (mxkit_code_cache_info status ${codeCache}):\n${instance.log('mxkit-relay.service').slice(-3000)}`);
    detail('the relay was compiled from the code cache the prepare step made (mxkit_code_cache_info status "used")');
    if (this.withRspamd) await this.rspamdUp(instance);
  }

  get withRspamd(): boolean {
    return this.world.userData.includes('mxkit-rspamd.service');
  }

  /** rspamd beside the relay, as an operator checks it: `curl -s 127.0.0.1:11333/ping`. */
  async rspamdUp(instance: Instance): Promise<void> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const ping = await instance.exec(['curl', '-sf', 'http://127.0.0.1:11333/ping']);
      if (ping.stdout.trim() === 'pong') break;
      const active = await instance.exec(['systemctl', 'is-active', 'mxkit-rspamd.service']);
      if (active.status !== 0 || Date.now() > deadline) {
        this.showStandins(instance);
        throw new Error(`rspamd did not answer (${active.stdout.trim()}):\n${instance.log('mxkit-rspamd.service').slice(-3000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    this.showStandins(instance);
    const facts = containerFacts(instance, 'mxkit-rspamd', { mounts: [['/', 'ro'], ['/etc/rspamd/local.d', 'ro'], ['/var/lib/rspamd', 'rw'], ['/run/rspamd', 'rw']], capabilities: '0000000000000000', uid: '11333' });
    detail(`rspamd answers pong on 127.0.0.1:11333 (curl on the host); the rspamd process: "${facts.argv}"; ${facts.summary}`);
  }

  /** `docker exec mxkit-relay node /opt/mxkit/mxkit.js …`, as an operator runs it on the host. */
  async relayCommand(instance: Instance, args: string[]): Promise<string> {
    const result = await instance.exec(['docker', 'exec', 'mxkit-relay', 'node', '/opt/mxkit/mxkit.js', ...args, '--config', CONFIG]);
    if (result.status !== 0) throw new Error(`mxkit ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  }

  async queuedIds(instance: Instance, recipient: string): Promise<string[]> {
    const entries = JSON.parse(await this.relayCommand(instance, ['queue', 'list', '--json'])) as Array<{ id: string; recipients: Array<{ to: string }> }>;
    return entries.filter((e) => e.recipients.some((r) => r.to === recipient)).map((e) => e.id);
  }

  async deliveredAndSigned(recipient: string, timeoutMs: number): Promise<void> {
    const message = await this.outside.waitFor((m) => m.to.includes(recipient), timeoutMs);
    const dkim = await verifyDkim(this.world, message.raw);
    if (!dkim.ok || dkim.domain !== this.world.domain || dkim.selector !== this.world.dkimSelector) throw new Error(`DKIM of the message to ${recipient} did not verify: ${JSON.stringify(dkim)}`);
    detail(`${recipient}: arrived at ${OUTSIDE_DOMAIN}${message.secure ? ' over STARTTLS' : ''}, python3-dkim: pass (d=${dkim.domain}, s=${dkim.selector})`);
  }

  async queueOne(instance: Instance, recipient: string): Promise<string> {
    this.outside.deferring = true;
    const before = this.outside.deferred;
    await submit(this.world, recipient, `queued for ${recipient}`);
    await this.outside.waitForDeferred(before + 1, 30_000);
    const [id] = await this.queuedIds(instance, recipient);
    if (!id) throw new Error(`no queued message for ${recipient}`);
    detail(`${recipient}: accepted, deferred by ${OUTSIDE_DOMAIN} (451), queued as ${id}`);
    return id;
  }

  /**
   * What `pulumi up` does after `pulumi config set mxkit:users …`: a new relay.json in Parameter
   * Store (here: the stand-in's world), then State Manager runs the association's document on the
   * instance with the new revision. Returns the run's exit status and output.
   */
  async pushConfig(instance: Instance, relayJson: string, revision: string): Promise<{ status: number | null; output: string }> {
    const worldFile = join(this.plan.amiDir, 'world.json');
    const standin = JSON.parse(readFileSync(worldFile, 'utf8')) as RehearsalWorld['standin'];
    standin.ssm[this.world.configPush.configParameter] = relayJson;
    writeFileSync(worldFile, JSON.stringify(standin, null, 2));
    const script = this.world.configPush.commands.join('\n').replaceAll('{{ revision }}', revision);
    const ran = await instance.exec(['/bin/bash', '-c', script]);
    this.showStandins(instance);
    return { status: ran.status, output: `${ran.stdout}${ran.stderr}`.trim() };
  }

  spoolFacts(): { uuid: string; label: string } {
    const value = (tag: string) => run(['blkid', '-s', tag, '-o', 'value', this.plan.loopDevice]).trim();
    return { uuid: value('UUID'), label: value('LABEL') };
  }
}

export async function rehearseInside(world: RehearsalWorld, plan: InsidePlan): Promise<void> {
  const gateway = gatewayFor(world.publicIp);
  step(`namespaces: "the internet" (DNS on ${gateway}, ${OUTSIDE_DOMAIN}'s mail server on ${OUTSIDE_IP}) and the instance's network (${world.publicIp}), joined by a veth pair`);
  run(['mount', '--make-rprivate', '/']);
  // Our own /run: ip netns keeps the instance's namespace handle there, gone with this namespace.
  run(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', '/run']);
  run(['ip', 'link', 'set', 'lo', 'up']);
  run(['ip', 'addr', 'add', `${OUTSIDE_IP}/32`, 'dev', 'lo']);
  run(['ip', 'netns', 'add', INSTANCE_NETNS]);
  run(['ip', 'link', 'add', 'veth-internet', 'type', 'veth', 'peer', 'name', 'veth-instance']);
  run(['ip', 'link', 'set', 'veth-instance', 'netns', INSTANCE_NETNS]);
  run(['ip', 'addr', 'add', `${gateway}/24`, 'dev', 'veth-internet']);
  run(['ip', 'link', 'set', 'veth-internet', 'up']);
  for (const command of [['link', 'set', 'lo', 'up'], ['addr', 'add', `${world.publicIp}/24`, 'dev', 'veth-instance'], ['link', 'set', 'veth-instance', 'up'], ['route', 'add', 'default', 'via', gateway]]) {
    run(['ip', '-n', INSTANCE_NETNS, ...command]);
  }
  // This process (the users, `mxkit check`) resolves through the rehearsal's DNS as the instance does.
  writeFileSync(join(plan.work, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  run(['mount', '--bind', join(plan.work, 'resolv.conf'), '/etc/resolv.conf']);
  const dns = await startDns(world);
  detail(`DNS on port 53: ${world.records.length} records the mocks recorded for Cloudflare, the PTR of ${world.publicIp}, ${OUTSIDE_DOMAIN}`);
  const outside = await startOutsideServer();
  detail(`outside mail server for ${OUTSIDE_DOMAIN} on ${OUTSIDE_IP}:25 (STARTTLS)`);
  const rehearsal = new Rehearsal(world, plan, outside);
  const instances: Instance[] = [];
  try {
    await bootAndDeliver(rehearsal, world, plan, instances);
  } catch (error) {
    for (const instance of instances) {
      rehearsal.showStandins(instance);
      const log = instance.log('mxkit-relay.service');
      if (log) process.stdout.write(`--- relay log (last lines) ---\n${log.split('\n').slice(-30).join('\n')}\n`);
    }
    throw error;
  } finally {
    for (const instance of instances) await instance.shutdown();
    await outside.close();
    await dns.close();
  }
}

/**
 * The config push (infra/components/config-push.ts) on the running instance: a user added by a
 * config change can submit at once, through SIGHUP, with no new instance; a config the relay
 * refuses fails the run and changes nothing; fixing it is one more push.
 */
async function pushConfigRehearsal(rehearsal: Rehearsal, world: RehearsalWorld, instance: Instance): Promise<void> {
  const original = JSON.parse(world.standin.ssm[world.configPush.configParameter]) as { users: Array<Record<string, unknown>> };
  const pushed = { username: 'pushed', password: randomBytes(12).toString('base64url'), address: `pushed@${world.domain}` };
  const withPushed = { ...original, users: [...original.users, { username: pushed.username, passwordHash: await hashPassword(pushed.password), allowedFrom: [pushed.address] }] };

  step('config push: a user added to mxkit:users reaches the running relay through the SSM document (SIGHUP), no new instance');
  const applied = await rehearsal.pushConfig(instance, `${JSON.stringify(withPushed, null, 2)}\n`, 'rehearsal-1');
  if (applied.status !== 0 || !applied.output.includes('the relay runs config revision rehearsal-1')) throw new Error(`the config push failed (${applied.status}): ${applied.output}`);
  detail(`the document's run: ${applied.output.split('\n').filter((line) => line.startsWith('mxkit:')).pop() ?? ''}`);
  await submit(world, `pushed@${OUTSIDE_DOMAIN}`, 'sent by a pushed user', 587, pushed);
  await rehearsal.deliveredAndSigned(`pushed@${OUTSIDE_DOMAIN}`, 30_000);

  step('config push of a file the relay refuses: the run fails (so would pulumi up), the relay keeps its config');
  const broken = { ...withPushed, users: [{ ...withPushed.users[0], passwordHash: 'not-a-hash' }] };
  const refused = await rehearsal.pushConfig(instance, `${JSON.stringify(broken, null, 2)}\n`, 'rehearsal-2');
  if (refused.status === 0 || !refused.output.includes('the relay refused config')) throw new Error(`a broken config was not refused (${refused.status}): ${refused.output}`);
  detail(`the document's run failed: ${refused.output.split('\n').filter((line) => line.startsWith('mxkit:')).pop() ?? ''}`);
  await submit(world, `still@${OUTSIDE_DOMAIN}`, 'still accepted after a refused push');
  await rehearsal.deliveredAndSigned(`still@${OUTSIDE_DOMAIN}`, 30_000);
  const fixed = await rehearsal.pushConfig(instance, `${JSON.stringify(withPushed, null, 2)}\n`, 'rehearsal-3');
  if (fixed.status !== 0) throw new Error(`the fixed config was not applied (${fixed.status}): ${fixed.output}`);
  detail('the fixed config pushed again: applied');
}

async function bootAndDeliver(rehearsal: Rehearsal, world: RehearsalWorld, plan: InsidePlan, instances: Instance[]): Promise<void> {
  const first = rehearsal.instance(1, 'x64');
  instances.push(first);
  step('instance 1 boots (Node 22 x64): cloud-init runs the user data, the spool volume is attached');
  first.attachVolume(plan.loopDevice);
  const boot = await first.firstBoot(world.userData);
  rehearsal.showStandins(first);
  if (boot.status !== 0) throw new Error(`runcmd failed (${boot.status}): ${boot.stderr}`);
  // Test hook: a rehearsal that fails here, with the spool volume mounted and the relay running,
  // must still leave nothing behind (test/rehearsal/rehearse.test.ts).
  if (process.env.MXKIT_REHEARSAL_BREAK === 'after-first-boot') throw new Error('broken on purpose after the first boot (MXKIT_REHEARSAL_BREAK)');
  await rehearsal.relayUp(first, 60_000);
  const formatted = rehearsal.spoolFacts();
  detail(`spool volume formatted once: xfs LABEL=${formatted.label} UUID=${formatted.uuid}`);

  step(`mxkit check --domain ${world.domain} (Node 22, the same DNS as the world)`);
  const caFile = join(plan.work, 'ca.pem');
  writeFileSync(caFile, world.caPem);
  const check = await runAsync([join(plan.nodeBin.x64, 'node'), plan.bundle, 'check', '--domain', world.domain, '--selector', world.dkimSelector, '--dns-server', '127.0.0.1:53', '--ca', caFile, '--dnsbl', 'none', '--closed-ports', world.closedPorts.join(',') || 'none']);
  for (const line of check.stdout.trimEnd().split('\n')) detail(line);
  if (check.status !== 0) throw new Error(`mxkit check failed (${check.status}) ${check.stderr}`);

  step(`submit as ${world.user.address} over STARTTLS on 587; delivered to ${OUTSIDE_DOMAIN}, DKIM-verified`);
  await submit(world, `first@${OUTSIDE_DOMAIN}`, 'first message');
  await rehearsal.deliveredAndSigned(`first@${OUTSIDE_DOMAIN}`, 30_000);

  await pushConfigRehearsal(rehearsal, world, first);

  if (rehearsal.withRspamd) {
    step(`rspamd scans mail for the relay: GTUBE to postmaster@${world.domain} on port 25 is refused`);
    const refusal = await sendUnauthenticated(world, `postmaster@${world.domain}`, 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X');
    if (!/^550 5\.7\.1 /.test(refusal)) throw new Error(`GTUBE was not refused as spam: ${refusal}`);
    detail(`the relay answered: ${refusal}`);
  }

  step('reboot: mail queued before it is delivered after it');
  const beforeReboot = await rehearsal.queueOne(first, `reboot@${OUTSIDE_DOMAIN}`);
  // The bundle object the host was made from is gone from S3 (as after a later `up`): a restart
  // must not need it.
  const objects = Object.values(world.standin.s3);
  for (const object of objects) rmSync(join(plan.amiDir, 's3', object));
  await first.shutdown();
  detail('powered off: relay stopped, spool volume unmounted; S3 no longer has the bundle object');
  rehearsal.outside.deferring = false;
  first.powerOnOnly();
  const refused = await first.exec(['/usr/local/libexec/mxkit-prepare']);
  if (refused.status === 0) throw new Error('mxkit-prepare ran on the root volume without the spool volume');
  detail(`without the spool volume mounted the relay's start step refuses: ${refused.stderr.trim()}`);
  await first.shutdown();
  await first.boot();
  await rehearsal.relayUp(first, 60_000);
  if (!(await rehearsal.queuedIds(first, `reboot@${OUTSIDE_DOMAIN}`)).includes(beforeReboot)) throw new Error(`${beforeReboot} was lost in the reboot`);
  detail(`after the reboot ${beforeReboot} is still queued; mxkit queue retry`);
  await rehearsal.relayCommand(first, ['queue', 'retry', beforeReboot]);
  await rehearsal.deliveredAndSigned(`reboot@${OUTSIDE_DOMAIN}`, 30_000);

  step('instance replacement: a new instance (Node 22 arm64 under qemu) with a fresh root takes over the spool volume');
  const beforeReplacement = await rehearsal.queueOne(first, `replaced@${OUTSIDE_DOMAIN}`);
  // The SRS key is the deployment's (forwarding.srsSecretFile, from SSM), shared by every host.
  const srsSecret = readFileSync(first.root + '/run/mxkit/srs.secret');
  await first.shutdown();
  instances.shift();
  for (const [file, source] of Object.entries(world.s3Sources)) writeFileSync(join(plan.amiDir, 's3', file), readFileSync(source));
  rehearsal.outside.deferring = false;
  const second = rehearsal.instance(2, 'arm64');
  instances.push(second);
  second.attachVolume(plan.loopDevice);
  const secondBoot = await second.firstBoot(world.userData);
  rehearsal.showStandins(second);
  if (secondBoot.status !== 0) throw new Error(`runcmd failed on instance 2 (${secondBoot.status}): ${secondBoot.stderr}`);
  await rehearsal.relayUp(second, 150_000);
  const kept = rehearsal.spoolFacts();
  if (kept.uuid !== formatted.uuid) throw new Error(`the spool volume was reformatted: UUID ${formatted.uuid} became ${kept.uuid}`);
  if (!readFileSync(second.root + '/run/mxkit/srs.secret').equals(srsSecret)) throw new Error('the SRS secret changed with the instance');
  if (!(await rehearsal.queuedIds(second, `replaced@${OUTSIDE_DOMAIN}`)).includes(beforeReplacement)) throw new Error(`${beforeReplacement} was lost in the replacement`);
  detail(`spool not reformatted (UUID ${kept.uuid}), SRS secret kept, ${beforeReplacement} still queued; mxkit queue retry`);
  await rehearsal.relayCommand(second, ['queue', 'retry', beforeReplacement]);
  await rehearsal.deliveredAndSigned(`replaced@${OUTSIDE_DOMAIN}`, 60_000);

  step('the arm64 relay takes a message over STARTTLS and delivers it DKIM-signed');
  await submit(world, `arm64@${OUTSIDE_DOMAIN}`, 'signed on arm64');
  await rehearsal.deliveredAndSigned(`arm64@${OUTSIDE_DOMAIN}`, 60_000);
}
