import { load } from 'js-yaml';
import { dockerRunCommand, NODE_IMAGE, relayContainer, renderUserData, SPOOL_LABEL, type BootConfigInput } from '../../infra/components/user-data';

const input: BootConfigInput = {
  region: 'eu-west-1',
  parameterPrefix: '/mxkit/mxkit/prod',
  parameterNames: ['dkim.key', 'relay.json'],
  bundle: { s3Uri: 's3://mxkit-prod-abc/relay/mxkit-aaaa.js', sha256: 'a'.repeat(64) },
  image: NODE_IMAGE,
  revision: 'b'.repeat(32),
};
type CloudConfig = { packages: string[]; write_files: { path: string; permissions: string; content: string }[]; runcmd: string[][] };

describe('boot configuration', () => {
  const document = load(renderUserData(input)) as CloudConfig;
  const file = (path: string) => document.write_files.find((f) => f.path === path)?.content ?? '';
  const relayUnit = () => file('/etc/systemd/system/mxkit-relay.service');

  test('is valid cloud-config YAML that installs docker and enables the relay unit', () => {
    expect(renderUserData(input).startsWith('#cloud-config\n')).toBe(true);
    expect(document.packages).toEqual(['docker']);
    expect(document.write_files.map((f) => f.path)).toEqual([
      '/etc/mxkit/deploy.env',
      '/usr/local/libexec/mxkit-spool-mount',
      '/usr/local/libexec/mxkit-prepare',
      '/usr/local/libexec/mxkit-reload',
      '/etc/systemd/system/mxkit-spool.service',
      '/etc/systemd/system/mxkit-relay.service',
    ]);
    expect(document.runcmd).toEqual([
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', '--now', 'docker.service'],
      ['systemctl', 'enable', '--now', 'mxkit-relay.service'],
    ]);
  });

  test('pins the official Node.js 22 image by digest', () => {
    expect(NODE_IMAGE).toMatch(/^node:22[a-z-]*@sha256:[a-f0-9]{64}$/);
  });

  test('names parameters and the bundle, with its checksum, but carries no secret value', () => {
    expect(file('/etc/mxkit/deploy.env')).toBe(
      'MXKIT_REGION="eu-west-1"\nMXKIT_PARAMETER_PREFIX="/mxkit/mxkit/prod"\nMXKIT_PARAMETERS="dkim.key relay.json"\n' +
        `MXKIT_BUNDLE_S3="s3://mxkit-prod-abc/relay/mxkit-aaaa.js"\nMXKIT_BUNDLE_SHA256="${'a'.repeat(64)}"\nMXKIT_REVISION="${'b'.repeat(32)}"\n`,
    );
    expect(file('/usr/local/libexec/mxkit-prepare')).toContain('--with-decryption');
    expect(file('/usr/local/libexec/mxkit-prepare')).toContain('sha256sum --check');
  });

  test('fetches secrets into tmpfs with owner-only permissions before every start', () => {
    expect(relayUnit()).toContain('ExecStartPre=/usr/local/libexec/mxkit-prepare');
    expect(relayUnit()).toContain('Restart=always');
    expect(file('/usr/local/libexec/mxkit-prepare')).toMatch(/umask 077\ninstall -d -m 0700 \/run\/mxkit/);
  });

  test('restarts from the bundle already on the host when it is the right one, without asking S3', () => {
    const prepare = file('/usr/local/libexec/mxkit-prepare');
    expect(prepare).toContain('! echo "$MXKIT_BUNDLE_SHA256  /opt/mxkit/mxkit.js" | sha256sum --check --quiet --status');
  });

  test("makes the bundle's code cache in the relay's own image once per bundle, after the bundle is in place, and starts without it when that fails", () => {
    const prepare = file('/usr/local/libexec/mxkit-prepare');
    // Only when there is none or the bundle is newer: a restart does not make it again.
    expect(prepare).toContain('! [ /opt/mxkit/mxkit.js.code-cache -nt /opt/mxkit/mxkit.js ]; then\n  rm -f /opt/mxkit/mxkit.js.code-cache\n');
    expect(prepare).toContain('--mount type=bind,source=/opt/mxkit,target=/opt/mxkit \\\n');
    expect(prepare).toContain(`${NODE_IMAGE} \\\n    node --max-semi-space-size=4 /opt/mxkit/mxkit.js code-cache \\\n    || echo "mxkit: no code cache`);
    expect(prepare.indexOf('code-cache')).toBeGreaterThan(prepare.indexOf('mv /opt/mxkit/mxkit.js.tmp /opt/mxkit/mxkit.js'));
    // The relay reads the folder (bundle and cache) read-only.
    expect(dockerRunCommand(relayContainer(NODE_IMAGE, true))).toContain('--mount type=bind,source=/opt/mxkit,target=/opt/mxkit,readonly');
  });

  test('leaves the code cache to a prebuilt relay image, which makes its own (relay/Dockerfile)', () => {
    const prebuilt = load(renderUserData({ ...input, bundle: undefined, image: 'registry.example/mxkit-relay:0.1.0@sha256:' + 'c'.repeat(64) })) as CloudConfig;
    expect(prebuilt.write_files.find((f) => f.path === '/usr/local/libexec/mxkit-prepare')?.content).not.toContain('code-cache');
  });

  test('formats the spool volume only when it is blank and mounts it by label', () => {
    const script = file('/usr/local/libexec/mxkit-spool-mount');
    expect(script).toContain(`if ! blkid "$device" >/dev/null 2>&1; then mkfs.xfs -L ${SPOOL_LABEL} "$device"; fi`);
    expect(script).toContain(`LABEL=${SPOOL_LABEL} /var/lib/mxkit xfs defaults,nofail 0 2`);
  });

  test('starts the relay only after the spool unit succeeded, and only on the spool volume', () => {
    expect(file('/etc/systemd/system/mxkit-spool.service')).toMatch(/Type=oneshot\nRemainAfterExit=yes\nExecStart=\/usr\/local\/libexec\/mxkit-spool-mount\n/);
    expect(relayUnit()).toContain('Requires=docker.service mxkit-spool.service\n');
    expect(relayUnit()).toContain('After=network-online.target docker.service mxkit-spool.service\n');
    expect(file('/usr/local/libexec/mxkit-prepare')).toContain(`!= "${SPOOL_LABEL}" ]; then`);
  });

  test('bind-mounts with --mount, which fails on a missing source instead of creating it on the root volume', () => {
    const command = dockerRunCommand(relayContainer(NODE_IMAGE, true));
    expect(command).not.toContain('--volume');
    expect(command).toContain('--mount type=bind,source=/var/lib/mxkit,target=/var/lib/mxkit \\');
  });

  test('runs the container read-only with every capability dropped but NET_BIND_SERVICE', () => {
    const command = dockerRunCommand(relayContainer(NODE_IMAGE, true));
    expect(command).toContain('--read-only --cap-drop ALL --cap-add NET_BIND_SERVICE --security-opt no-new-privileges');
    expect(command).toContain('--mount type=bind,source=/run/mxkit,target=/run/mxkit,readonly');
    expect(command).toMatch(/node --max-semi-space-size=4 \/opt\/mxkit\/mxkit\.js relay --config \/run\/mxkit\/relay\.json$/);
  });

  test('reads the deployment\'s shared parameters too, and the changing ones again every minute', () => {
    const shared = { ...input, shared: { prefix: '/mxkit/prod/shared', names: ['dkim-example.com-mx1.key', 'mta-sts.txt'], refresh: ['mta-sts.txt'] } };
    const text = renderUserData(shared);
    const withShared = load(text) as CloudConfig;
    const content = (path: string) => withShared.write_files.find((f) => f.path === path)?.content ?? '';
    expect(content('/etc/mxkit/deploy.env')).toContain('MXKIT_SHARED_PREFIX="/mxkit/prod/shared"\nMXKIT_SHARED_PARAMETERS="dkim-example.com-mx1.key mta-sts.txt"\nMXKIT_REFRESH_PARAMETERS="mta-sts.txt"\n');
    expect(content('/usr/local/libexec/mxkit-prepare')).toContain('for name in ${MXKIT_SHARED_PARAMETERS:-}; do fetch "$MXKIT_SHARED_PREFIX" "$name"; done');
    expect(content('/usr/local/libexec/mxkit-refresh')).toContain('for name in ${MXKIT_REFRESH_PARAMETERS:-}; do fetch "$MXKIT_SHARED_PREFIX" "$name"; done');
    expect(content('/etc/systemd/system/mxkit-refresh.timer')).toMatch(/OnUnitActiveSec=1min/);
    expect(withShared.runcmd.at(-1)).toEqual(['systemctl', 'enable', '--now', 'mxkit-refresh.timer']);
    // Without anything to refresh there is no timer.
    expect(renderUserData(input)).not.toContain('mxkit-refresh');
  });

  test('refuses values that could break out of the env file', () => {
    expect(() => renderUserData({ ...input, region: 'eu-west-1"; rm -rf /' })).toThrow('MXKIT_REGION contains characters that are not allowed');
  });
});
