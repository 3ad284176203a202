/** The worker-thread side of transmit-pool.ts: runs each job it is sent and answers with the result. */
import { parentPort, workerData } from 'node:worker_threads';
import { closeIdleConnections } from './smtp-client';
import { SignatureCache, transmit } from './transmit';
import type { FromWorker, ToWorker, TransmitWorkerData } from './transmit-pool';

export function isTransmitWorker(data: unknown): data is TransmitWorkerData {
  return typeof data === 'object' && data !== null && (data as { mxkitWorker?: unknown }).mxkitWorker === 'transmit';
}

export function runTransmitWorker(): void {
  const port = parentPort;
  if (!port || !isTransmitWorker(workerData)) throw new Error('not a transmit worker');
  const cache = new SignatureCache();
  const reply = (message: FromWorker) => port.postMessage(message);
  port.on('message', (message: ToWorker) => {
    if (message.type === 'close') {
      closeIdleConnections();
      reply({ type: 'closed' });
      port.close();
    } else {
      transmit(message.job, cache).then(
        (result) => reply({ type: 'result', id: message.id, result }),
        (error: unknown) => reply({ type: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) }),
      );
    }
  });
}
