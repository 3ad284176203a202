/**
 * Received reports on disk (spoolDir/reports): one small JSON file per report message -- the
 * parsed facts, not the raw attachment -- named `<received>-<kind>-<key>.json` so the folder lists
 * in time order. The same report delivered twice (same reporter and report id) is stored once.
 * Empty, malformed and non-report messages are stored too (their problem only), so `mxkit
 * reports` can count them. Bounded: files past `reports.retention` go, and the oldest go past
 * `reports.maxStored`.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../spool/atomic-file';
import type { Complaint } from './arf';
import type { DmarcReport } from './dmarc';
import type { TlsReport } from './tlsrpt';

export type ReportKind = 'dmarc' | 'tlsRpt' | 'complaint';
export type ReportResult = 'stored' | 'empty' | 'malformed' | 'not_a_report';

export interface StoredReport {
  kind: ReportKind;
  result: ReportResult;
  receivedAt: string;
  queueId: string;
  /** Envelope sender of the report message. */
  sender: string;
  problem?: string;
  dmarc?: DmarcReport;
  tlsRpt?: TlsReport;
  complaint?: Complaint & { user?: string };
}

const FILE_PATTERN = /^(\d{8}T\d{9})-(dmarc|tlsRpt|complaint)-([0-9A-Za-z]{1,32})\.json$/;
/** A stored file larger than this is not read back (MAX_ROWS keeps real ones far below). */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

function stamp(iso: string): string {
  return iso.replace(/[-:.Z]/g, '').slice(0, 18);
}

function stampTime(text: string): number {
  const iso = `${text.slice(0, 4)}-${text.slice(4, 6)}-${text.slice(6, 8)}T${text.slice(9, 11)}:${text.slice(11, 13)}:${text.slice(13, 15)}.${text.slice(15, 18)}Z`;
  return Date.parse(iso);
}

/** The identity of a report: its reporter and report id (RFC 7489 7.2.1.1 / RFC 8460 4.4 report-id). */
export function reportKey(report: StoredReport): string {
  const identity = report.dmarc ? `${report.dmarc.org}\n${report.dmarc.reportId}` : report.tlsRpt ? `${report.tlsRpt.org}\n${report.tlsRpt.reportId}` : report.queueId;
  return report.dmarc || report.tlsRpt ? createHash('sha256').update(identity).digest('hex').slice(0, 24) : report.queueId;
}

export class ReportStore {
  private readonly keys = new Set<string>();
  private files: string[] = [];

  constructor(
    private readonly dir: string,
    private readonly limits: { retentionMs: number; maxStored: number },
    private readonly now: () => number = Date.now,
  ) {}

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.files = (await readdir(this.dir)).filter((name) => FILE_PATTERN.test(name)).sort();
    for (const name of this.files) this.keys.add(keyOf(name));
    await this.prune();
  }

  /** Stores a report; 'duplicate' when the same report is already kept. */
  async save(report: StoredReport): Promise<ReportResult | 'duplicate'> {
    const key = `${report.kind}-${reportKey(report)}`;
    if (this.keys.has(key)) return 'duplicate';
    const name = `${stamp(report.receivedAt)}-${key}.json`;
    await writeFileAtomic(join(this.dir, name), `${JSON.stringify(report)}\n`);
    this.keys.add(key);
    this.files.push(name);
    await this.prune();
    return report.result;
  }

  private async prune(): Promise<void> {
    const oldest = this.now() - this.limits.retentionMs;
    while (this.files.length > 0) {
      const name = this.files[0];
      const match = FILE_PATTERN.exec(name);
      const expired = !match || stampTime(match[1]) < oldest;
      if (!expired && this.files.length <= this.limits.maxStored) break;
      this.files.shift();
      this.keys.delete(keyOf(name));
      await rm(join(this.dir, name), { force: true });
    }
  }
}

function keyOf(name: string): string {
  const match = FILE_PATTERN.exec(name);
  return match ? `${match[2]}-${match[3]}` : name;
}

/** Every stored report received since `sinceMs` (oldest first); unreadable files are skipped. */
export async function readReports(dir: string, sinceMs = 0): Promise<StoredReport[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => FILE_PATTERN.test(name)).sort();
  const reports: StoredReport[] = [];
  for (const name of names) {
    const match = FILE_PATTERN.exec(name);
    if (!match || stampTime(match[1]) < sinceMs) continue;
    try {
      const text = await readFile(join(dir, name), 'utf8');
      if (text.length > MAX_FILE_BYTES) continue;
      reports.push(JSON.parse(text) as StoredReport);
    } catch {
      // Deleted by pruning between readdir and read, or damaged: skip it.
    }
  }
  return reports;
}
