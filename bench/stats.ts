/** Medians, percentiles and spread, as every table in docs/benchmarks.md reports them. */

export function percentile(values: readonly number[], p: number): number {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const middle = Math.floor(finite.length / 2);
  return finite.length % 2 === 1 ? finite[middle] : (finite[middle - 1] + finite[middle]) / 2;
}

/** "±N%": half the min-max range relative to the median ('' for a single value). */
export function spread(values: readonly number[]): string {
  const finite = values.filter(Number.isFinite);
  const middle = median(finite);
  if (finite.length < 2 || !middle) return '';
  return `±${Math.round(((Math.max(...finite) - Math.min(...finite)) / 2 / middle) * 100)}%`;
}

/** A figure for a table: 1 decimal below 100, none above. */
export function figure(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1);
}
