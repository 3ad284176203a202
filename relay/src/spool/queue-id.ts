import { randomBytes } from 'node:crypto';

/** Sortable (time first), unguessable, safe as a file name: 9 base36 time chars + 10 hex. */
export function newQueueId(now = Date.now()): string {
  return (now.toString(36).padStart(9, '0') + randomBytes(5).toString('hex')).toUpperCase();
}

export const QUEUE_ID_PATTERN = /^[0-9A-Z]{19}$/;

/** When a queue id was made (ms since the epoch): its first nine characters. */
export function queueIdTime(id: string): number {
  return parseInt(id.slice(0, 9), 36);
}
