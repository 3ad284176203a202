/**
 * Where the deliverability stores live inside spoolDir (the spool owns the folder's layout; see
 * spool.ts for the queue's own files). Each store is written by the running relay only; the
 * commands (`mxkit trace`, `mxkit reports`, `mxkit suppress`) read them, and ask the relay for
 * changes through spoolDir/control like `mxkit queue retry` does.
 *
 *   spoolDir/trace/<start>-<n>.jsonl   delivery trace segments (trace/store.ts)
 *   spoolDir/reports/<kind>-<..>.json  received DMARC/TLS-RPT/ARF reports (reports/store.ts)
 *   spoolDir/suppression.jsonl         the suppression list journal (suppression/list.ts)
 *   spoolDir/throttle.json             per-provider throttle state (delivery/throttle.ts)
 */
import { join, resolve } from 'node:path';

export interface SpoolLayout {
  trace: string;
  reports: string;
  suppression: string;
  throttle: string;
  control: string;
}

export function spoolLayout(spoolDir: string): SpoolLayout {
  const root = resolve(spoolDir);
  return {
    trace: join(root, 'trace'),
    reports: join(root, 'reports'),
    suppression: join(root, 'suppression.jsonl'),
    throttle: join(root, 'throttle.json'),
    control: join(root, 'control'),
  };
}
