/**
 * Reads the trace store (store.ts) for `mxkit trace`, the ops page and complaint attribution: one
 * message by queue id, or the latest messages to or from an address. Segments are streamed line
 * by line with a cheap substring test before any JSON is parsed, and segments last written before
 * the message existed (the queue id starts with its time) are skipped.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { mentions, parseEntry, type TraceEntry } from './entry';
import { SEGMENT_PATTERN } from './store';

export interface MessageTrace {
  id: string;
  entries: TraceEntry[];
}

export interface TraceQuery {
  id?: string;
  address?: string;
  /** Most messages an address query returns, the latest (default 20). */
  limit?: number;
}

/** When a queue id was made (relay/src/spool/queue-id.ts: base36 milliseconds first). */
export function queueIdTime(id: string): number {
  const time = parseInt(id.slice(0, 9), 36);
  return Number.isFinite(time) ? time : 0;
}

async function segments(dir: string, notBefore: number): Promise<string[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => SEGMENT_PATTERN.test(name)).sort();
  const kept: string[] = [];
  for (const name of names) {
    const info = await stat(join(dir, name)).catch(() => undefined);
    // A minute of slack for clocks and buffered writes.
    if (info && info.mtimeMs >= notBefore - 60_000) kept.push(join(dir, name));
  }
  return kept;
}

async function scan(paths: readonly string[], keep: (line: string) => boolean, visit: (entry: TraceEntry) => void): Promise<void> {
  for (const path of paths) {
    const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }).on('error', () => undefined), crlfDelay: Infinity });
    for await (const line of lines) {
      if (!keep(line)) continue;
      const entry = parseEntry(line);
      if (entry) visit(entry);
    }
  }
}

export async function readTrace(dir: string, query: TraceQuery): Promise<MessageTrace[]> {
  const byId = new Map<string, TraceEntry[]>();
  if (query.id !== undefined) {
    const id = query.id;
    await scan(await segments(dir, queueIdTime(id)), (line) => line.includes(id), (entry) => {
      if (entry.id === id) byId.set(id, [...(byId.get(id) ?? []), entry]);
    });
  } else if (query.address !== undefined) {
    const address = query.address.toLowerCase();
    const limit = query.limit ?? 20;
    const ids: string[] = [];
    const all = await segments(dir, 0);
    await scan(all, (line) => line.toLowerCase().includes(address), (entry) => {
      if (!mentions(entry, address) || ids.includes(entry.id)) return;
      ids.push(entry.id);
      if (ids.length > limit) ids.shift();
    });
    if (ids.length === 0) return [];
    const wanted = new Set(ids);
    const earliest = Math.min(...ids.map(queueIdTime));
    await scan(await segments(dir, earliest), (line) => ids.some((id) => line.includes(id)), (entry) => {
      if (wanted.has(entry.id)) byId.set(entry.id, [...(byId.get(entry.id) ?? []), entry]);
    });
  }
  return [...byId.entries()]
    .map(([id, entries]) => ({ id, entries: entries.sort((a, b) => a.at.localeCompare(b.at)) }))
    .sort((a, b) => (a.entries[0]?.at ?? '').localeCompare(b.entries[0]?.at ?? ''));
}
