import { ConfigError, parseRelayConfig, type RelayConfigInput } from '../../../relay/src/config/schema';

const base: RelayConfigInput = { hostname: 'mail.example.test', domains: ['example.test'], listen: {}, spoolDir: '/tmp/spool' };

function errorOf(extra: Partial<RelayConfigInput>): string {
  try {
    parseRelayConfig({ ...base, ...extra });
    return 'no error';
  } catch (error) {
    return error instanceof ConfigError ? error.message : String(error);
  }
}

describe('spam settings in the relay config', () => {
  it('default to no block list, no content scanning and no sending limit', () => {
    const config = parseRelayConfig(base);
    expect(config.spam).toEqual({ dnsbl: [], dnsblTimeout: '3s' });
    expect(config.limits.maxMessagesPerUserPerHour).toBeUndefined();
  });

  it('fill in rspamd defaults: flag at 6, reject at 15, 10 s, accept on error', () => {
    const config = parseRelayConfig({ ...base, spam: { rspamd: { url: 'http://127.0.0.1:11333' } } });
    expect(config.spam.rspamd).toEqual({ url: 'http://127.0.0.1:11333', flagScore: 6, rejectScore: 15, timeout: '10s', onError: 'accept' });
  });

  it.each([
    [{ spam: { rspamd: { url: 'ftp://127.0.0.1/' } } }, /^spam\.rspamd\.url: must be an http/],
    [{ spam: { rspamd: { url: 'http://127.0.0.1:11333', flagScore: 20, rejectScore: 15 } } }, /^spam\.rspamd\.flagScore: must not be above rejectScore/],
    [{ spam: { rspamd: { url: 'http://127.0.0.1:11333', onError: 'drop' } } }, /^spam\.rspamd\.onError: /],
    [{ spam: { dnsbl: [{ zone: 'zen.spamhaus.org', action: 'block' }] } }, /^spam\.dnsbl\[0\]\.action: /],
    [{ spam: { dnsbl: [{ zone: 'zen.spamhaus.org', action: 'reject', returnCodes: ['::1'] }] } }, /^spam\.dnsbl\[0\]\.returnCodes\[0\]: must be an IPv4 address/],
    [{ spam: { dnsbl: [{ zone: 'bl.test', action: 'reject' }, { zone: 'BL.test', action: 'flag' }] } }, /^spam\.dnsbl\[1\]\.zone: is listed twice/],
    [{ spam: { dnsbl: [{ zone: 'not a zone', action: 'reject' }] } }, /^spam\.dnsbl\[0\]\.zone: must be a DNS zone/],
    [{ spam: { dnsbl: [], rbl: [] } }, /^spam\.rbl: is not a known setting/],
    [{ limits: { maxMessagesPerUserPerHour: 0 } }, /^limits\.maxMessagesPerUserPerHour: /],
  ])('refuse %j naming the field', (extra, message) => {
    expect(errorOf(extra as Partial<RelayConfigInput>)).toMatch(message);
  });

  it('take a per-user limit next to the global one', () => {
    const config = parseRelayConfig({
      ...base,
      limits: { maxMessagesPerUserPerHour: 500 },
      users: [{ username: 'app', passwordHash: '$scrypt$x', allowedFrom: ['app@example.test'], maxMessagesPerHour: 20 }],
    });
    expect(config.users[0].maxMessagesPerHour).toBe(20);
    expect(config.limits.maxMessagesPerUserPerHour).toBe(500);
  });
});
