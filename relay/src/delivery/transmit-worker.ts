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
  // Jobs start one per turn of the event loop. A job signs its message synchronously before its
  // first I/O (~0.4 ms of RSA-2048), and the main thread posts jobs in batches, which a worker
  // receives in one callback: started there, twenty signatures would run back to back while the
  // replies of twenty open SMTP sessions wait, which made each transaction take 10-18 ms after a
  // burst (docs/benchmarks.md, round 6). Started from setImmediate, each waits behind the poll
  // phase, so the sessions' replies are read between two signatures.
  const waiting: Array<Extract<ToWorker, { type: 'job' }>> = [];
  let pumping = false;
  const startNext = () => {
    const message = waiting.shift();
    if (!message) {
      pumping = false;
      return;
    }
    transmit(message.job, cache).then(
      (result) => reply({ type: 'result', id: message.id, result }),
      (error: unknown) => reply({ type: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) }),
    );
    setImmediate(startNext);
  };
  port.on('message', (message: ToWorker) => {
    if (message.type === 'close') {
      closeIdleConnections();
      reply({ type: 'closed' });
      port.close();
    } else {
      waiting.push(message);
      if (!pumping) {
        pumping = true;
        setImmediate(startNext);
      }
    }
  });
}
