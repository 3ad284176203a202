/** Durations in the relay config are strings like "500ms", "90s", "5m", "4h", "5d". */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;

export function parseDuration(text: string): number {
  const match = DURATION_PATTERN.exec(text);
  if (!match) throw new Error(`"${text}" is not a duration like "90s", "5m", "4h" or "5d"`);
  return Number(match[1]) * UNIT_MS[match[2]];
}
