import { EventEmitter } from 'node:events';
import { appendFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { TraceEntry } from '../../../relay/src/trace/entry';
import { endings } from '../../../relay/src/trace/format';
import { readTrace } from '../../../relay/src/trace/reader';
import { TraceRecorder } from '../../../relay/src/trace/recorder';
import { TraceWriter } from '../../../relay/src/trace/store';
import { tempDir } from '../../helpers/relay';

const logger = pino({ level: 'silent' });
const DAY = 86_400_000;
const entry = (id: string, at: number, reply = 'ok'): TraceEntry => ({ at: new Date(at).toISOString(), id, kind: 'deferred', to: 'a@b.example', status: '4.0.0', reason: 'remote_4xx', reply });
const segments = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.jsonl')).sort();

describe('the trace store', () => {
  it('starts a new segment each day and whenever one is full', async () => {
    const dir = tempDir();
    let now = Date.parse('2025-03-01T23:59:00Z');
    const writer = new TraceWriter({ dir, retentionMs: 14 * DAY, segmentBytes: 400, logger, now: () => now });
    await writer.open();
    for (let index = 0; index < 3; index++) writer.append(entry(`A${index}`, now));
    await writer.flush();
    writer.append(entry('B', now));
    await writer.flush();
    now += 2 * 60_000; // past midnight
    writer.append(entry('C', now));
    await writer.close();
    const names = segments(dir);
    expect(names).toHaveLength(3);
    expect(names[0]).toMatch(/^20250301T235900-/);
    expect(names[2]).toMatch(/^20250302T000100-/);
  });

  it('deletes segments older than delivery.traceRetention, and the oldest ones once the folder is over its size', async () => {
    const dir = tempDir();
    const writer = new TraceWriter({ dir, retentionMs: 14 * DAY, segmentBytes: 300, maxBytes: 1500, logger });
    await writer.open();
    for (let index = 0; index < 12; index++) {
      writer.append(entry(`M${index}`, Date.now(), 'x'.repeat(100)));
      await writer.flush();
    }
    await writer.prune();
    const total = segments(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
    expect(total).toBeLessThanOrEqual(1500 + 300);
    const oldest = segments(dir)[0];
    const old = (Date.now() - 15 * DAY) / 1000;
    utimesSync(join(dir, oldest), old, old);
    await writer.prune();
    expect(segments(dir)).not.toContain(oldest);
    await writer.close();
  });

  it('clips long and control-laden remote text before storing it, and skips torn lines when reading', async () => {
    const dir = tempDir();
    const writer = new TraceWriter({ dir, retentionMs: DAY, logger });
    await writer.open();
    const recorder = new TraceRecorder(writer);
    const id = '0MX000000ABCDEF0123';
    recorder.received({ id, receivedAt: new Date().toISOString(), mailFrom: 'a@b.example', rcptTo: ['c@d.example'], origin: 'submission', listener: 'submission', clientAddress: '127.0.0.1', smtpUtf8: false, bodyType: '7bit' });
    recorder.record(id, { kind: 'deferred', to: 'c@d.example', status: '4.0.0', reason: 'remote_4xx', reply: `451 ${'y'.repeat(10_000)}\r\nInjected: header` });
    await writer.flush();
    const [segment] = segments(dir);
    appendFileSync(join(dir, segment), `{"at":"2025-01-01T00:00:00Z","id":"${id}","kind":"deliv`);
    const [found] = await readTrace(dir, { id });
    expect(found.entries.map((e) => e.kind)).toEqual(['received', 'deferred']);
    const reply = (found.entries[1] as { reply: string }).reply;
    expect(reply.length).toBeLessThanOrEqual(501);
    expect(reply).not.toMatch(/[\r\n]/);
    await writer.close();
  });
});

describe('the trace recorder', () => {
  it("records delivery's failed-list ending for each recipient", async () => {
    const dir = tempDir();
    const writer = new TraceWriter({ dir, retentionMs: DAY, logger });
    await writer.open();
    const events = new EventEmitter();
    new TraceRecorder(writer).follow(events);
    const id = '0MX000000ABCDEF0124';
    events.emit('bounced', { id, to: 'a@b.example', listener: 'mx', origin: 'inbound', reason: 'remote_5xx', status: '5.1.1', detail: '550 5.1.1 no such user' });
    events.emit('dsn-suppressed', { id, action: 'failed', reason: 'unauthenticated_sender' });
    events.emit('failed', { id, recipients: ['a@b.example'] });
    await writer.flush();
    const [found] = await readTrace(dir, { id });
    expect(found.entries.map((entry) => entry.kind)).toEqual(['bounced', 'no-dsn', 'failed-list']);
    expect(endings(found)).toEqual(['<a@b.example>: bounced (5.1.1) at ' + found.entries[0].at.replace('T', ' ').replace(/\.\d+Z$/, 'Z') + ', no DSN (unauthenticated_sender), on the failed list']);
    await writer.close();
  });
});
