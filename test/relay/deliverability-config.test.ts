import { parseRelayConfig, type RelayConfigInput } from '../../relay/src/config/schema';

const base: RelayConfigInput = { hostname: 'mail.example.com', domains: ['example.com'], listen: {}, spoolDir: '/var/spool/mxkit' };
const error = (extra: Partial<RelayConfigInput>) => {
  try {
    parseRelayConfig({ ...base, ...extra });
  } catch (caught) {
    return (caught as Error).message;
  }
  return undefined;
};

describe('deliverability config', () => {
  it('fills in the defaults: a 14-day trace, the built-in provider table and rules, suppression on, no reports, no alerts', () => {
    const config = parseRelayConfig(base);
    expect(config.delivery.traceRetention).toBe('14d');
    expect(config.delivery.throttle).toEqual({ providers: [], rules: [], default: { concurrency: 4, messagesPerMinute: 0 }, rampAfter: 10, maxWait: '30s' });
    expect(config.suppression).toEqual({ enabled: true, maxEntries: 100_000 });
    expect(config.reports).toBeUndefined();
    expect(config.alerts).toBeUndefined();
    const partial = parseRelayConfig({ ...base, delivery: { traceRetention: '30d' } });
    expect(partial.delivery.throttle.maxWait).toBe('30s');
  });

  it('names the field of a bad value', () => {
    expect(error({ delivery: { traceRetention: '2 weeks' } })).toMatch(/^delivery\.traceRetention: must be a duration/);
    expect(error({ delivery: { throttle: { providers: [{ name: 'Big Provider', mxSuffixes: ['x.com'], concurrency: 2, messagesPerMinute: 10 }] } } })).toMatch(/^delivery\.throttle\.providers\[0\]\.name: /);
    expect(error({ delivery: { throttle: { rules: [{ match: '[TSS04]', coolOff: 'soon' }] } } })).toMatch(/^delivery\.throttle\.rules\[0\]\.coolOff: /);
    expect(error({ reports: { dmarc: ['dmarc@elsewhere.net'] } })).toBe('reports.dmarc[0]: domain elsewhere.net is not in domains');
    expect(error({ alerts: { webhook: 'ftp://hooks.example.net/x' } })).toMatch(/^alerts\.webhook: must be an http\(s\) URL/);
    expect(error({ alerts: { webhook: 'https://hooks.example.net/x', format: 'slack' as 'json' } })).toMatch(/^alerts\.format: /);
    expect(error({ suppression: { enabled: true, maxEntries: 10 } })).toMatch(/^suppression\.maxEntries: /);
  });
});
