/**
 * Spam filtering in the deployment: stack config (mxkit:spam, mxkit:dnsbl, mxkit:rspamdImage), the
 * relay's spam block, and rspamd beside the relay in the boot config, whose rspamd files a real
 * rspamd (Debian's, `rspamadm configtest`) accepts.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { parseStackConfig, StackConfigError } from '../../infra/config';
import { redactDnsblKeys, relaySpamConfig } from '../../infra/builders/spam';
import { RSPAMD_IMAGE, rspamdBootFiles, rspamdRunCommand } from '../../infra/components/rspamd-unit';
import { NODE_IMAGE, renderUserData, type BootConfigInput } from '../../infra/components/user-data';
import { parseRelayConfig } from '../../relay/src/config/schema';
import { findRspamd } from '../../relay/src/local/rspamd';
import { run } from '../helpers/run';

const minimal = {
  'mxkit:domain': 'example.com',
  'mxkit:cloudflareZoneId': '0123456789abcdef0123456789abcdef',
  'cloudflare:apiToken': 'token',
  'aws:region': 'eu-west-1',
};
const parse = (overrides: Record<string, string>) => parseStackConfig({ ...minimal, ...overrides }, '/project');
const errorOf = (overrides: Record<string, string>): string => {
  try {
    parse(overrides);
    return 'no error';
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError);
    return (error as Error).message;
  }
};

describe('stack config for spam filtering', () => {
  test('defaults to rspamd refusing spam and no block list', () => {
    expect(parse({})).toMatchObject({ spam: 'reject', dnsbl: [] });
    expect(parse({}).rspamdImage).toBeUndefined();
  });

  test('takes zones by name or with their own action and return codes', () => {
    const config = parse({ 'mxkit:spam': 'flag', 'mxkit:dnsbl': JSON.stringify(['zen.spamhaus.org', { zone: 'bl.example.net', action: 'reject', returnCodes: ['127.0.0.2'] }]) });
    expect(config.spam).toBe('flag');
    expect(config.dnsbl).toEqual([{ zone: 'zen.spamhaus.org' }, { zone: 'bl.example.net', action: 'reject', returnCodes: ['127.0.0.2'] }]);
  });

  test('names the key and the entry that is wrong', () => {
    expect(errorOf({ 'mxkit:spam': 'on' })).toBe('mxkit:spam must be one of off|flag|reject');
    expect(errorOf({ 'mxkit:dnsbl': '["not a zone"]' })).toBe('mxkit:dnsbl[0].zone must be a DNS zone like zen.spamhaus.org');
    expect(errorOf({ 'mxkit:dnsbl': '[{"zone":"zen.spamhaus.org","action":"drop"}]' })).toMatch(/^mxkit:dnsbl\[0\]\.action /);
    expect(errorOf({ 'mxkit:dnsbl': 'zen.spamhaus.org' })).toBe('mxkit:dnsbl must be JSON');
    expect(errorOf({ 'mxkit:rspamdImage': 'rspamd/rspamd:latest; rm -rf /' })).toMatch(/^mxkit:rspamdImage must be an image reference/);
  });

  test('lets a user carry its own hourly sending limit', () => {
    const users = JSON.stringify([{ username: 'app', passwordHash: '$scrypt$x', allowedFrom: ['*@example.com'], maxMessagesPerHour: 200 }]);
    expect(parse({ 'mxkit:users': users }).secrets.users[0].maxMessagesPerHour).toBe(200);
  });
});

describe("the relay's spam block per mode", () => {
  test('reject: rspamd on loopback refusing at 15 and flagging from 6; named zones refuse', () => {
    const spam = parseRelayConfig({ hostname: 'mail.example.com', domains: ['example.com'], listen: {}, spoolDir: '/s', spam: relaySpamConfig('reject', ['zen.spamhaus.org']) }).spam;
    expect(spam.rspamd).toEqual({ url: 'http://127.0.0.1:11333', flagScore: 6, rejectScore: 15, timeout: '10s', onError: 'accept' });
    expect(spam.dnsbl).toEqual([{ zone: 'zen.spamhaus.org', action: 'reject' }]);
  });

  test('flag: never refuses, and named zones only flag', () => {
    const spam = relaySpamConfig('flag', ['zen.spamhaus.org']);
    expect(spam?.rspamd).toMatchObject({ rejectScore: null });
    expect(spam?.dnsbl).toEqual([{ zone: 'zen.spamhaus.org', action: 'flag' }]);
  });

  test('off: no rspamd, and nothing at all without zones', () => {
    expect(relaySpamConfig('off', [])).toBeUndefined();
    expect(relaySpamConfig('off', [{ zone: 'bl.example.net', action: 'reject' }])).toEqual({ dnsbl: [{ zone: 'bl.example.net', action: 'reject' }] });
  });

  test('hides a Spamhaus DQS key in what is shown as a plain output', () => {
    const shown = redactDnsblKeys(relaySpamConfig('reject', ['abcdefghijklmnopqrstuvwxyz.zen.dq.spamhaus.net', 'bl.example.net']));
    expect(shown?.dnsbl?.map((entry) => entry.zone)).toEqual(['(secret).zen.dq.spamhaus.net', 'bl.example.net']);
  });
});

const boot: BootConfigInput = {
  region: 'eu-west-1',
  parameterPrefix: '/mxkit/prod',
  parameterNames: ['dkim.key', 'relay.json'],
  bundle: { s3Uri: 's3://mxkit-prod-abc/relay/mxkit.js', sha256: 'a'.repeat(64) },
  image: NODE_IMAGE,
  revision: 'b'.repeat(32),
  rspamd: { image: RSPAMD_IMAGE, flagScore: 6, rejectScore: 15 },
};
type CloudConfig = { write_files: { path: string; permissions: string; content: string }[]; runcmd: string[][] };

describe('rspamd beside the relay in the boot config', () => {
  const text = renderUserData(boot);
  const document = load(text) as CloudConfig;
  const file = (path: string) => document.write_files.find((f) => f.path === path)?.content ?? '';

  test('pins the official rspamd image by digest', () => {
    expect(RSPAMD_IMAGE).toMatch(/^rspamd\/rspamd:\d+\.\d+\.\d+@sha256:[a-f0-9]{64}$/);
    expect(file('/etc/systemd/system/mxkit-rspamd.service')).toContain(RSPAMD_IMAGE);
  });

  test('runs it loopback-only, read-only, without capabilities, with its small config mounted read-only', () => {
    const command = rspamdRunCommand(RSPAMD_IMAGE);
    expect(command).toContain('--env RSPAMD_LOCAL_ADDR=127.0.0.1');
    expect(command).toContain('--read-only --cap-drop ALL --security-opt no-new-privileges');
    expect(command).toContain('--volume /etc/mxkit/rspamd/local.d:/etc/rspamd/local.d:ro');
    expect(command).not.toMatch(/ -p |--publish/);
    expect(file('/etc/mxkit/rspamd/local.d/worker-normal.inc')).toBe('bind_socket = "127.0.0.1:11333";\n');
    expect(file('/etc/mxkit/rspamd/local.d/worker-controller.inc')).toBe('bind_socket = "127.0.0.1:11334";\n');
    expect(file('/etc/mxkit/rspamd/local.d/actions.conf')).toBe('reject = 15;\nadd_header = 6;\ngreylist = null;\n');
    // Test patterns stay off in production: their non-reject variants would let anyone skip the filter.
    expect(text).not.toContain('test_patterns');
  });

  test('is part of the relay unit: started by it, stopped and restarted with it, enabled before it starts', () => {
    const unit = file('/etc/systemd/system/mxkit-rspamd.service');
    expect(unit).toContain('PartOf=mxkit-relay.service');
    expect(unit).toContain('WantedBy=mxkit-relay.service');
    expect(unit).toContain('Before=mxkit-relay.service');
    expect(unit).toContain('Restart=always');
    expect(document.runcmd.slice(-2)).toEqual([
      ['systemctl', 'enable', 'mxkit-rspamd.service'],
      ['systemctl', 'enable', '--now', 'mxkit-relay.service'],
    ]);
  });

  test('leaves the boot config as it was when spam filtering is off, and stays under the 16 KiB user data limit', () => {
    const without = renderUserData({ ...boot, rspamd: undefined });
    expect(without).not.toContain('rspamd');
    // docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html: user data is limited to 16 KB.
    expect(Buffer.byteLength(text)).toBeLessThan(16 * 1024);
  });

  test("writes rspamd files that a real rspamd's configtest accepts", async () => {
    const rspamadm = findRspamd()?.replace(/rspamd$/, 'rspamadm');
    if (!rspamadm) throw new Error('rspamd is not installed: apt-get install rspamd (.ci/run installs it)');
    const dir = mkdtempSync(join(tmpdir(), 'mxkit-rspamd-conf-'));
    try {
      mkdirSync(join(dir, 'local.d'));
      for (const entry of rspamdBootFiles(boot.rspamd ?? { image: '', flagScore: 6, rejectScore: 15 })) {
        if (entry.path.startsWith('/etc/mxkit/rspamd/local.d/')) writeFileSync(join(dir, 'local.d', entry.path.split('/').pop() as string), entry.content);
      }
      // Only for this check: without it rspamd resolves the public fuzzy servers' names while loading.
      writeFileSync(join(dir, 'local.d', 'fuzzy_check.conf'), 'enabled = false;\n');
      const result = await run(rspamadm, [`--var=LOCAL_CONFDIR=${dir}`, 'configtest', '-c', '/etc/rspamd/rspamd.conf']);
      expect(`${result.stdout}${result.stderr}`).toContain('syntax OK');
      expect(result.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
