import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for queue ids, drawn from the CSPRNG a page at a time: one call per message cost
 * the event loop about 25 µs under load (docs/benchmarks.md, round 4), one call per 800 ids
 * costs nothing measurable. Never reused: each id takes the next unread bytes.
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return hex;
}

/** Sortable (time first), unguessable, safe as a file name: 9 base36 time chars + 10 hex. */
export function newQueueId(now = Date.now()): string {
  return (now.toString(36).padStart(9, '0') + randomHex(5)).toUpperCase();
}

export const QUEUE_ID_PATTERN = /^[0-9A-Z]{19}$/;

/** When a queue id was made (ms since the epoch): its first nine characters. */
export function queueIdTime(id: string): number {
  return parseInt(id.slice(0, 9), 36);
}
