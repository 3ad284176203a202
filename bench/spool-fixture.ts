/**
 * A large mxkit queue made directly on disk (far faster than submitting it): N spooled messages in
 * the relay's own file format, each with a delivery state saying it was tried once and is next due
 * in an hour -- a backlog like the one a relay finds after an outage and a restart.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SpoolEnvelope } from '../relay/src/spool/envelope';
import { newQueueId } from '../relay/src/spool/queue-id';
import type { DeliveryState } from '../relay/src/spool/state';

export function fillMxkitSpool(spoolDir: string, count: number, sender: string, recipient: string): void {
  const queueDir = join(spoolDir, 'queue');
  const stateDir = join(spoolDir, 'state');
  mkdirSync(queueDir, { recursive: true, mode: 0o700 });
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const body = Buffer.from(`From: <${sender}>\r\nTo: <${recipient}>\r\nSubject: backlog\r\n\r\n${`${'x'.repeat(78)}\r\n`.repeat(64)}`);
  const receivedAt = new Date().toISOString();
  const nextAttemptAt = new Date(Date.now() + 3_600_000).toISOString();
  const start = Date.now() - count;
  for (let index = 0; index < count; index++) {
    const id = newQueueId(start + index);
    const envelope: SpoolEnvelope = { id, receivedAt, mailFrom: sender, rcptTo: [recipient], listener: 'submission', origin: 'submission', clientAddress: '127.0.0.1', smtpUtf8: false, bodyType: '7bit' };
    writeFileSync(join(queueDir, `${id}.msg`), Buffer.concat([Buffer.from(`${JSON.stringify(envelope)}\n`), body]), { mode: 0o600 });
    const state: DeliveryState = {
      id,
      attempts: 1,
      nextAttemptAt,
      recipients: [{ to: recipient, original: recipient, mailFrom: sender, status: 'pending', attempts: 1, lastAttemptAt: receivedAt, lastError: 'bench backlog', statusCode: '4.4.1', reason: 'connection' }],
    };
    writeFileSync(join(stateDir, `${id}.json`), JSON.stringify(state), { mode: 0o600 });
  }
}
