import type { RelayMetrics } from '../../relay/src/ops/metrics';

/**
 * A metric's value for the label set that has every label in `labels` (none: its first), read
 * from the relay's registry: 0 when no such label set was recorded yet (a counter never
 * incremented), NaN when the relay has no metric of that name at all.
 */
export async function metricValue(metrics: RelayMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  if (!metric) return NaN;
  const value = metric.values.find((entry) => Object.entries(labels).every(([key, wanted]) => entry.labels[key] === wanted));
  return value?.value ?? 0;
}
