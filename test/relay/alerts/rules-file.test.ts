import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { RelayMetrics } from '../../../relay/src/ops/metrics';

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: { severity?: string };
  annotations?: { summary?: string; description?: string };
}

const RULES_FILE = join(__dirname, '..', '..', '..', 'docs', 'alerts', 'mxkit-rules.yml');

describe('the Prometheus alert rules in docs/alerts', () => {
  const document = load(readFileSync(RULES_FILE, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
  const rules = document.groups.flatMap((group) => group.rules);

  it('give every rule a name, an expression, a severity and a summary', () => {
    expect(rules.length).toBeGreaterThanOrEqual(10);
    for (const rule of rules) {
      expect(rule).toMatchObject({ alert: expect.stringMatching(/^Mxkit[A-Z]\w+$/), expr: expect.any(String), labels: { severity: expect.stringMatching(/^(warning|critical)$/) }, annotations: { summary: expect.any(String) } });
    }
    expect(new Set(rules.map((rule) => rule.alert)).size).toBe(rules.length);
  });

  it('cover queue stuck, certificate expiry, port 25, blocklisting, cool-offs and the complaint and bounce rates', () => {
    const names = rules.map((rule) => rule.alert);
    expect(names).toEqual(expect.arrayContaining(['MxkitQueueStuck', 'MxkitCertificateExpiring', 'MxkitPort25Shut', 'MxkitBlocklisted', 'MxkitProviderCoolOff', 'MxkitComplaintRateCritical', 'MxkitHardBounceRateHigh']));
    // Gmail's published limit: a 0.3% spam-complaint rate.
    expect(rules.find((rule) => rule.alert === 'MxkitComplaintRateCritical')?.expr).toMatch(/> 0\.003$/);
  });

  it('use only metrics the relay exports', async () => {
    const exported = new Set((await new RelayMetrics().registry.getMetricsAsJSON()).map((metric) => metric.name));
    const used = new Set(rules.flatMap((rule) => rule.expr?.match(/\bmxkit_[a-z0-9_]+/g) ?? []));
    for (const name of used) expect({ name, exported: exported.has(name) }).toEqual({ name, exported: true });
  });
});
