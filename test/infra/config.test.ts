import { parseStackConfig, StackConfigError } from '../../infra/config';

const HASH = '$scrypt$N=16384,r=8,p=1$c2FsdA$aGFzaA';
const minimal = {
  'mxkit:domain': 'example.com',
  'mxkit:cloudflareZoneId': '0123456789abcdef0123456789abcdef',
  'cloudflare:apiToken': 'token',
  'aws:region': 'eu-west-1',
};
const parse = (overrides: Record<string, string | undefined>) => parseStackConfig({ ...minimal, ...overrides }, '/project');
const errorOf = (overrides: Record<string, string | undefined>): string => {
  try {
    parse(overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a config error');
};

describe('stack config', () => {
  test('fills in the documented defaults', () => {
    const config = parse({});
    expect(config).toMatchObject({
      domain: 'example.com',
      hostname: 'mail.example.com',
      instanceType: 't4g.small',
      architecture: 'arm64',
      dkimSelector: 'mx1',
      dmarcPolicy: 'none',
      tls: 'acme',
      acmeEmail: 'postmaster@example.com',
      mtaSts: { mode: 'testing', maxAge: '7d' },
      routes: [],
      ephemeral: false,
      spoolVolumeSize: 8,
      bundlePath: '/project/dist/mxkit.js',
      outbound: 'direct',
    });
    expect(config.sshCidr).toBeUndefined();
    expect(config.sesMailFromDomain).toBeUndefined();
    // Reports go to the relay's own mailboxes unless another address is asked for.
    expect(config.reportsTo).toBeUndefined();
    expect(config.secrets).toEqual({ cloudflareApiToken: 'token', users: [], smarthostPassword: undefined });
  });

  test('names a missing required key', () => {
    expect(errorOf({ 'mxkit:domain': undefined })).toContain('mxkit:domain is required');
    expect(errorOf({ 'mxkit:cloudflareZoneId': '' })).toContain('mxkit:cloudflareZoneId is required');
    expect(errorOf({ 'cloudflare:apiToken': undefined })).toContain('cloudflare:apiToken is required');
    expect(errorOf({ 'aws:region': undefined })).toContain('aws:region is required');
  });

  test('mxkit:outbound ses gets the MAIL FROM domain bounce.<domain> unless one is given', () => {
    expect(parse({ 'mxkit:outbound': 'ses' })).toMatchObject({ outbound: 'ses', sesMailFromDomain: 'bounce.example.com' });
    expect(parse({ 'mxkit:outbound': 'ses', 'mxkit:sesMailFromDomain': 'ses-bounces.example.com' }).sesMailFromDomain).toBe('ses-bounces.example.com');
  });

  test('refuses SES settings that cannot work, naming the key', () => {
    expect(errorOf({ 'mxkit:outbound': 'postfix' })).toBe('mxkit:outbound must be one of direct|ses');
    expect(errorOf({ 'mxkit:outbound': 'ses', 'mxkit:sesMailFromDomain': 'bounce.example.net' })).toBe('mxkit:sesMailFromDomain must be a subdomain of example.com like bounce.example.com');
    expect(errorOf({ 'mxkit:outbound': 'ses', 'mxkit:sesMailFromDomain': 'mail.example.com' })).toBe('mxkit:sesMailFromDomain must not be mail.example.com, which has records of its own');
    expect(errorOf({ 'mxkit:sesMailFromDomain': 'bounce.example.com' })).toBe('mxkit:sesMailFromDomain is set but mxkit:outbound is not ses');
    expect(errorOf({ 'mxkit:outbound': 'ses', 'mxkit:smarthost': '{"host":"smtp.example.net","port":587}' })).toBe(
      'mxkit:smarthost must not be set with mxkit:outbound ses (the program configures SES as the smarthost)',
    );
  });

  test('names an invalid choice with the allowed values', () => {
    expect(errorOf({ 'mxkit:dmarcPolicy': 'strict' })).toBe('mxkit:dmarcPolicy must be one of none|quarantine|reject');
    expect(errorOf({ 'mxkit:tls': 'letsencrypt' })).toBe('mxkit:tls must be one of acme|acme-staging|self-signed');
    expect(errorOf({ 'mxkit:mtaStsMode': 'on' })).toBe('mxkit:mtaStsMode must be one of testing|enforce|none');
  });

  test('reports every problem at once', () => {
    const message = errorOf({ 'mxkit:domain': undefined, 'mxkit:dmarcPolicy': 'strict', 'mxkit:ephemeral': 'yes' });
    expect(message.split('; ')).toEqual([
      'mxkit:domain is required',
      'mxkit:dmarcPolicy must be one of none|quarantine|reject',
      'mxkit:ephemeral must be true or false',
    ]);
  });

  test('refuses unknown mxkit keys, which are usually typos', () => {
    expect(errorOf({ 'mxkit:dmarcPolcy': 'reject' })).toBe('mxkit:dmarcPolcy is not a known key (typo?)');
  });

  test('names the field inside a JSON value', () => {
    expect(errorOf({ 'mxkit:routes': '[{"match":"postmaster@example.com","forward":[]}]' })).toMatch(/^mxkit:routes\[0\]\.forward /);
    expect(errorOf({ 'mxkit:users': '[{"username":"app","passwordHash":"secret","allowedFrom":["*@example.com"]}]' })).toBe(
      'mxkit:users[0].passwordHash must be a hash printed by `mxkit hash-password`',
    );
    expect(errorOf({ 'mxkit:routes': 'not json' })).toBe('mxkit:routes must be JSON');
    expect(errorOf({ 'mxkit:routes': '[{"match":"a@other.example","forward":["b@example.net"]}]' })).toBe(
      'mxkit:routes[0].match must be an address at example.com',
    );
  });

  test('checks names, addresses, CIDRs and sizes', () => {
    expect(errorOf({ 'mxkit:domain': 'exa mple.com' })).toContain('mxkit:domain must be a DNS name');
    expect(errorOf({ 'mxkit:reportsTo': 'nobody' })).toBe('mxkit:reportsTo must be an address like dmarc@example.com');
    expect(errorOf({ 'mxkit:sshCidr': '198.51.100.7' })).toContain('mxkit:sshCidr must be an IPv4 CIDR');
    expect(errorOf({ 'mxkit:sshCidr': '0.0.0.0/0' })).toContain('mxkit:sshCidr must not open SSH to the whole internet');
    expect(errorOf({ 'mxkit:spoolVolumeSize': '0' })).toContain('mxkit:spoolVolumeSize must be a size in GiB');
    expect(errorOf({ 'mxkit:cloudflareZoneId': 'example.com' })).toContain('mxkit:cloudflareZoneId must be the 32-hex-digit zone ID');
    expect(errorOf({ 'mxkit:smarthostPassword': 'pw' })).toBe('mxkit:smarthostPassword is set but mxkit:smarthost is not');
  });

  test('refuses a smarthost username without its password, which the relay could never use', () => {
    expect(errorOf({ 'mxkit:smarthost': '{"host":"smtp.example.net","port":587,"username":"u"}' })).toMatch(/^mxkit:smarthostPassword is required when mxkit:smarthost has a username/);
    expect(errorOf({ 'mxkit:smarthost': '{"host":"smtp.example.net","port":587}', 'mxkit:smarthostPassword': 'pw' })).toBe('mxkit:smarthost.username is required when mxkit:smarthostPassword is set');
    expect(parse({ 'mxkit:smarthost': '{"host":"smtp.example.net","port":25}' }).smarthost).toEqual({ host: 'smtp.example.net', port: 25 });
  });

  test('takes a relay image only pinned by digest, since a moved tag would never reach the hosts', () => {
    expect(errorOf({ 'mxkit:relayImage': 'ghcr.io/example/mxkit-relay:0.1.0' })).toMatch(/^mxkit:relayImage must be pinned by digest/);
    const pinned = `ghcr.io/example/mxkit-relay:0.1.0@sha256:${'c'.repeat(64)}`;
    expect(parse({ 'mxkit:relayImage': pinned }).relayImage).toBe(pinned);
  });

  test('checks a subnet ID and a pinned AMI ID', () => {
    expect(errorOf({ 'mxkit:subnetId': 'default' })).toBe('mxkit:subnetId must be a subnet ID like subnet-0123456789abcdef0');
    expect(errorOf({ 'mxkit:amiId': 'al2023' })).toBe('mxkit:amiId must be an AMI ID like ami-0123456789abcdef0');
    expect(parse({ 'mxkit:subnetId': 'subnet-0123456789abcdef0', 'mxkit:amiId': 'ami-0123456789abcdef0' })).toMatchObject({ subnetId: 'subnet-0123456789abcdef0', amiId: 'ami-0123456789abcdef0' });
  });

  test('reads secrets and structured values the way the Pulumi CLI passes them (JSON text)', () => {
    const config = parse({
      'mxkit:users': JSON.stringify([{ username: 'app', passwordHash: HASH, allowedFrom: ['*@example.com'] }]),
      'mxkit:smarthost': '{"host":"smtp.example.net","port":587,"username":"u","spfInclude":"example.net"}',
      'mxkit:smarthostPassword': 'pw',
      'mxkit:ephemeral': 'true',
      'mxkit:tls': 'self-signed',
    });
    expect(config.secrets.users).toHaveLength(1);
    expect(config.smarthost).toEqual({ host: 'smtp.example.net', port: 587, username: 'u', spfInclude: 'example.net' });
    expect(config.secrets.smarthostPassword).toBe('pw');
    expect(config.ephemeral).toBe(true);
    expect(config.mtaSts).toBeUndefined();
    expect(config.acmeEmail).toBeUndefined();
  });

  test('converts an IDN domain and picks x86_64 for non-Graviton instance types', () => {
    const config = parse({ 'mxkit:domain': 'bücher.example', 'mxkit:instanceType': 't3.small' });
    expect(config.domain).toBe('xn--bcher-kva.example');
    expect(config.hostname).toBe('mail.xn--bcher-kva.example');
    expect(config.architecture).toBe('x86_64');
    expect(parse({ 'mxkit:instanceType': 'c7gn.large' }).architecture).toBe('arm64');
  });

  test('passes mxkit:oauth through as the relay auth.oauth, and refuses a jwksFile (no such file on a host), naming the key', () => {
    const provider = { issuer: 'https://login.example.com/t/v2.0', jwksUrl: 'https://login.example.com/t/discovery/v2.0/keys', audience: 'api://mxkit', allowedFrom: ['self'] };
    expect(parse({}).oauth).toEqual([]);
    expect(parse({ 'mxkit:oauth': JSON.stringify([provider]) }).oauth).toEqual([{ ...provider, usernameClaim: 'email' }]);
    expect(errorOf({ 'mxkit:oauth': JSON.stringify([{ ...provider, jwksUrl: undefined, jwksFile: '/etc/keys.json' }]) })).toContain('mxkit:oauth[0].jwksFile');
    expect(errorOf({ 'mxkit:oauth': JSON.stringify([{ ...provider, audience: '' }]) })).toMatch(/^mxkit:oauth\[0\]\.audience /);
  });
});

describe('stack config of several hosts, domains and DKIM selectors', () => {
  const ZONE_ORG = 'fedcba9876543210fedcba9876543210';
  const twoDomains = JSON.stringify([
    { domain: 'example.com', cloudflareZoneId: minimal['mxkit:cloudflareZoneId'] },
    { domain: 'bücher.example', cloudflareZoneId: ZONE_ORG },
  ]);
  const listed = { 'mxkit:domain': undefined, 'mxkit:cloudflareZoneId': undefined, 'mxkit:domains': twoDomains };

  test('defaults to one host, one domain and the selector mx1', () => {
    const config = parse({});
    expect(config.hostnames).toEqual(['mail.example.com']);
    expect(config.domains).toEqual([{ domain: 'example.com', cloudflareZoneId: minimal['mxkit:cloudflareZoneId'] }]);
    expect(config.dkimSelectors).toEqual(['mx1']);
  });

  test('names every host after host 1, or after a {n} pattern', () => {
    expect(parse({ 'mxkit:hosts': '3' }).hostnames).toEqual(['mail.example.com', 'mail2.example.com', 'mail3.example.com']);
    expect(parse({ 'mxkit:hosts': '2', 'mxkit:hostname': 'mx{n}.example.com' })).toMatchObject({ hostname: 'mx1.example.com', hostnames: ['mx1.example.com', 'mx2.example.com'] });
    expect(errorOf({ 'mxkit:hosts': '0' })).toBe('mxkit:hosts must be a whole number from 1 to 6 (one host per availability zone)');
    expect(errorOf({ 'mxkit:hosts': '1.5' })).toContain('mxkit:hosts must be a whole number');
    expect(errorOf({ 'mxkit:hosts': '2', 'mxkit:hostname': 'mx{n}..example.com' })).toContain('mxkit:hostname must be a DNS name like mail.example.com, or a pattern like mx{n}.example.com');
  });

  test('reads mxkit:domains, primary first, each with its own zone, and mxkit:reportsTo for all of them', () => {
    const config = parse(listed);
    expect(config.domain).toBe('example.com');
    expect(config.cloudflareZoneId).toBe(minimal['mxkit:cloudflareZoneId']);
    expect(config.domains).toEqual([
      { domain: 'example.com', cloudflareZoneId: minimal['mxkit:cloudflareZoneId'] },
      { domain: 'xn--bcher-kva.example', cloudflareZoneId: ZONE_ORG },
    ]);
    expect(parse({ ...listed, 'mxkit:reportsTo': 'dmarc@example.com' }).domains.map((d) => d.reportsTo)).toEqual(['dmarc@example.com', 'dmarc@example.com']);
  });

  test('lets routes name any of the domains, and no other', () => {
    const routes = JSON.stringify([{ match: '*@bücher.example', forward: ['inbox@example.net'] }]);
    expect(parse({ ...listed, 'mxkit:routes': routes }).routes).toHaveLength(1);
    expect(errorOf({ ...listed, 'mxkit:routes': '[{"match":"a@other.example","forward":["b@example.net"]}]' })).toBe(
      'mxkit:routes[0].match must be an address at example.com or xn--bcher-kva.example',
    );
  });

  test('names a domain whose zone id is missing, and other mistakes in the list', () => {
    const withoutZone = JSON.stringify([{ domain: 'example.com', cloudflareZoneId: minimal['mxkit:cloudflareZoneId'] }, { domain: 'example.org' }]);
    expect(errorOf({ ...listed, 'mxkit:domains': withoutZone })).toBe('mxkit:domains[1].cloudflareZoneId is required (the Cloudflare zone that holds example.org)');
    expect(errorOf({ ...listed, 'mxkit:domains': '[{"domain":"example.org","cloudflareZoneId":"nope"}]' })).toBe('mxkit:domains[0].cloudflareZoneId must be the 32-hex-digit zone ID from the Cloudflare dashboard');
    expect(errorOf({ ...listed, 'mxkit:domains': '[]' })).toBe('mxkit:domains must list at least one domain');
    expect(errorOf({ ...listed, 'mxkit:domains': `[{"domain":"example.com","cloudflareZoneId":"${ZONE_ORG}"},{"domain":"EXAMPLE.com.","cloudflareZoneId":"${ZONE_ORG}"}]` })).toBe(
      'mxkit:domains[1].domain lists example.com a second time',
    );
    expect(errorOf({ 'mxkit:domains': twoDomains })).toBe(
      'mxkit:domain must not be set with mxkit:domains (list every domain, the primary first, in mxkit:domains); mxkit:cloudflareZoneId must not be set with mxkit:domains (list every domain, the primary first, in mxkit:domains)',
    );
  });

  test('refuses mxkit:subnetId with several hosts (a subnet is in one zone, the hosts in several)', () => {
    expect(errorOf({ 'mxkit:hosts': '2', 'mxkit:subnetId': 'subnet-0123456789abcdef0' })).toBe(
      'mxkit:subnetId places one host; with mxkit:hosts above 1 the hosts run in the default VPC (a subnet per host is not supported yet)',
    );
  });

  test('refuses mxkit:outbound ses with several domains (one SES identity is made, the primary domain\'s)', () => {
    expect(errorOf({ ...listed, 'mxkit:outbound': 'ses' })).toBe('mxkit:outbound ses sends for one domain only; with several in mxkit:domains use direct');
  });

  test('reads mxkit:dkimSelectors in order (the first signs) and refuses it beside mxkit:dkimSelector', () => {
    expect(parse({ 'mxkit:dkimSelectors': '["mx2","mx1"]' })).toMatchObject({ dkimSelector: 'mx2', dkimSelectors: ['mx2', 'mx1'] });
    expect(errorOf({ 'mxkit:dkimSelectors': '["mx2","mx1"]', 'mxkit:dkimSelector': 'mx1' })).toBe(
      'mxkit:dkimSelector must not be set with mxkit:dkimSelectors (list every selector there, the signing one first)',
    );
    expect(errorOf({ 'mxkit:dkimSelectors': '["mx1","MX1"]' })).toBe('mxkit:dkimSelectors[1] lists mx1 a second time');
    expect(errorOf({ 'mxkit:dkimSelectors': '["mx 2"]' })).toBe('mxkit:dkimSelectors[0] must be a DNS label like mx1');
    expect(errorOf({ 'mxkit:dkimSelectors': '[]' })).toBe('mxkit:dkimSelectors must list at least one selector');
  });
});
