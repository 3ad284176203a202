/**
 * The rehearsal's stand-ins read the user data the way cloud-init, systemd and docker do; these
 * are the readings, checked on what infra renders (no root needed).
 */
import { relayContainer, dockerRunCommand, NODE_IMAGE, renderUserData } from '../../infra/components/user-data';
import { relayService, serviceUnit } from '../../infra/components/boot-units';
import { RSPAMD_IMAGE, rspamdBootFiles } from '../../infra/components/rspamd-unit';
import { parseCloudConfig, shellify } from './cloud-init';
import { boundingSet, containerCommand, containerScript, privileges } from './standins/container';
import { parseDockerRun } from './standins/docker-args';
import { isAllowed } from './standins/iam';
import { listValue, parseCommandLine, parseUnitFile, values } from './standins/unit-file';

const unit = parseUnitFile(serviceUnit(relayService(NODE_IMAGE, true)));
const dockerRun = () => parseCommandLine(values(unit, 'Service', 'ExecStart')[0]).argv;

describe('the systemd stand-in reads the relay unit', () => {
  test('with its dependencies, its start steps in order and its install target', () => {
    expect(listValue(unit, 'Unit', 'Requires')).toEqual(['docker.service', 'mxkit-spool.service']);
    expect(values(unit, 'Service', 'ExecStartPre').map((line) => parseCommandLine(line))).toEqual([
      { argv: ['/usr/local/libexec/mxkit-prepare'], ignoreFailure: false },
      { argv: ['/usr/bin/docker', 'rm', '--force', 'mxkit-relay'], ignoreFailure: true },
    ]);
    expect(listValue(unit, 'Install', 'WantedBy')).toEqual(['multi-user.target']);
  });

  test('joining the backslash-continued ExecStart into the docker run line', () => {
    expect(dockerRun().join(' ')).toBe(dockerRunCommand(relayContainer(NODE_IMAGE, true)).replace(/ \\\n\s+/g, ' '));
  });

  test('refusing what it does not emulate', () => {
    expect(() => parseCommandLine('+/usr/bin/true')).toThrow('does not emulate the "+" prefix');
    expect(() => parseCommandLine('docker run')).toThrow('must start with an absolute path');
  });
});

describe('the docker stand-in reads the docker run line', () => {
  test('into the same mounts (read-only where flagged), capabilities and command', () => {
    const run = parseDockerRun(dockerRun().slice(2));
    expect(run).toMatchObject({ name: 'mxkit-relay', remove: true, network: 'host', readOnly: true, capDrop: ['ALL'], capAdd: ['NET_BIND_SERVICE'], securityOpt: ['no-new-privileges'], image: NODE_IMAGE });
    expect(run.mounts).toEqual([
      { source: '/run/mxkit', target: '/run/mxkit', readOnly: true },
      { source: '/var/lib/mxkit', target: '/var/lib/mxkit', readOnly: false },
      { source: '/opt/mxkit', target: '/opt/mxkit', readOnly: true },
    ]);
    expect(run.tmpfs).toEqual([{ target: '/tmp', options: 'rw,noexec,nosuid,size=64m' }]);
    expect(run.command).toEqual(['node', '--max-semi-space-size=4', '/opt/mxkit/mxkit.js', 'relay', '--config', '/run/mxkit/relay.json']);
    expect(boundingSet(run)).toBe('-all,+net_bind_service');
  });

  test('and makes the container exactly that: read-only binds, root remounted read-only, setpriv with those capabilities', () => {
    const run = parseDockerRun(dockerRun().slice(2));
    const image = { bin: '/images/x64', execPrefix: [], description: 'x64' };
    const script = containerScript(run, image, '/c/root', 'host');
    expect(script).toContain(`mount -o remount,bind,ro "$root"'/run/mxkit'`);
    expect(script).not.toContain(`mount -o remount,bind,ro "$root"'/var/lib/mxkit'`);
    expect(script).toContain('mount -o remount,ro "$root"\n');
    expect(script).toContain("/usr/bin/setpriv --no-new-privs --inh-caps -all --bounding-set -all,+net_bind_service -- 'node' '--max-semi-space-size=4' '/opt/mxkit/mxkit.js' 'relay'");
  });

  test('starts node of another architecture through its prefix (qemu for arm64)', () => {
    expect(containerCommand(['node', 'a.js'], { bin: '/b', execPrefix: ['/usr/bin/qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'], description: 'arm64' })).toEqual([
      '/usr/bin/qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu', '/usr/local/bin/node', 'a.js',
    ]);
  });

  test('refuses flags it does not emulate instead of ignoring them', () => {
    expect(() => parseDockerRun(['--privileged', 'image'])).toThrow('"--privileged" is not emulated');
    expect(() => parseDockerRun(['--mount', 'type=volume,source=x,target=/y', 'image'])).toThrow('only --mount type=bind is emulated');
  });
});

describe('the cloud-init stand-in reads the user data', () => {
  const userData = renderUserData({ region: 'eu-west-1', parameterPrefix: '/mxkit/mxkit/dev', parameterNames: ['relay.json'], image: NODE_IMAGE, revision: 'r1' });

  test('as packages, files with their modes, and one runcmd shell script quoted as cloud-init quotes it', () => {
    const config = parseCloudConfig(userData);
    expect(config.packages).toEqual(['docker']);
    expect(config.writeFiles.find((f) => f.path === '/usr/local/libexec/mxkit-prepare')?.permissions).toBe('0755');
    expect(config.runcmdScript).toBe("#!/bin/sh\n'systemctl' 'daemon-reload'\n'systemctl' 'enable' '--now' 'docker.service'\n'systemctl' 'enable' '--now' 'mxkit-relay.service'\n");
    expect(shellify([['echo', "it's"], 'raw && line'])).toBe("#!/bin/sh\n'echo' 'it'\\''s'\nraw && line\n");
  });

  test('refusing modules it does not rehearse', () => {
    expect(() => parseCloudConfig(`${userData}bootcmd:\n  - [echo, hi]\n`)).toThrow('cloud-config key "bootcmd" is not rehearsed');
  });
});

describe('the aws stand-in\'s IAM check', () => {
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: [
    { Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: ['arn:aws:ssm:eu-west-1:1:parameter/mxkit/mxkit/dev/relay.json'] },
    { Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::mxkit-dev-x/relay/*'] },
  ] });

  test('allows exactly the parameters and the bundle folder the role names', () => {
    expect(isAllowed(policy, 'ssm:GetParameter', 'arn:aws:ssm:eu-west-1:1:parameter/mxkit/mxkit/dev/relay.json')).toBe(true);
    expect(isAllowed(policy, 'ssm:GetParameter', 'arn:aws:ssm:eu-west-1:1:parameter/mxkit/mxkit/prod/relay.json')).toBe(false);
    expect(isAllowed(policy, 's3:GetObject', 'arn:aws:s3:::mxkit-dev-x/relay/mxkit-abc.js')).toBe(true);
    expect(isAllowed(policy, 's3:GetObject', 'arn:aws:s3:::mxkit-dev-x/other')).toBe(false);
    expect(isAllowed(policy, 's3:PutObject', 'arn:aws:s3:::mxkit-dev-x/relay/mxkit-abc.js')).toBe(false);
  });
});

describe('the stand-ins read the rspamd unit beside the relay', () => {
  const rspamd = rspamdBootFiles({ image: RSPAMD_IMAGE, flagScore: 6, rejectScore: 15 }).find((file) => file.path.endsWith('mxkit-rspamd.service'));
  const rspamdUnit = parseUnitFile(rspamd?.content ?? '');

  test('as wanted by the relay, ordered before it and stopped with it', () => {
    expect(listValue(rspamdUnit, 'Install', 'WantedBy')).toEqual(['mxkit-relay.service']);
    expect(listValue(rspamdUnit, 'Unit', 'Before')).toEqual(['mxkit-relay.service']);
    expect(listValue(rspamdUnit, 'Unit', 'PartOf')).toEqual(['mxkit-relay.service']);
  });

  test('with its environment, a named volume for its data and its config read-only', () => {
    const run = parseDockerRun(parseCommandLine(values(rspamdUnit, 'Service', 'ExecStart')[0]).argv.slice(2));
    expect(run.env).toEqual(['RSPAMD_LOCAL_ADDR=127.0.0.1']);
    expect(run.mounts).toEqual([
      { source: 'mxkit-rspamd', target: '/var/lib/rspamd', readOnly: false, named: true },
      { source: '/etc/mxkit/rspamd/local.d', target: '/etc/rspamd/local.d', readOnly: true },
    ]);
    expect(run.command).toEqual([]);
    const image = { execPrefix: [], user: '11333:11333', command: ['/usr/bin/rspamd', '-f'], description: 'rspamd' };
    expect(containerCommand(run.command, image)).toEqual(['/usr/bin/rspamd', '-f']);
    expect(privileges(run, image)).toEqual(['--reuid=11333', '--regid=11333', '--clear-groups', '--no-new-privs', '--inh-caps', '-all', '--bounding-set', '-all']);
  });
});
