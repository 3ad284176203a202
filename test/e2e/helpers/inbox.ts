/**
 * The inbox as a client sees it: its JSON list, a message's raw source, and its event stream.
 * `receiveWhile` subscribes first and only then sends, so the test waits for the arrival event
 * itself, with nothing to poll and no race.
 */
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import type { StoredMessage } from '../../../relay/src/local/inbox-store';
import { fetchText } from '../../helpers/http';

export { fetchText };

export async function inboxMessages(inboxUrl: string): Promise<StoredMessage[]> {
  return JSON.parse((await fetchText(new URL('/api/messages', inboxUrl).href)).body) as StoredMessage[];
}

export function rawSource(inboxUrl: string, id: string): Promise<{ status: number; type: string; body: string }> {
  return fetchText(new URL(`/messages/${id}/raw`, inboxUrl).href);
}

/**
 * Runs `send` once the inbox's event stream is open and resolves with the first arrival that
 * `matches`. Rejects if `send` fails, so a refused message fails the test at once.
 */
export function receiveWhile(inboxUrl: string, matches: (message: StoredMessage) => boolean, send: () => Promise<unknown>): Promise<StoredMessage> {
  let request: ClientRequest | undefined;
  const arrival = new Promise<StoredMessage>((resolve, reject) => {
    request = get(new URL('/events', inboxUrl).href, (response: IncomingMessage) => {
      let pending = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        pending += chunk;
        const events = pending.split('\n\n');
        pending = events.pop() ?? '';
        for (const event of events) {
          const data = event.split('\n').find((line) => line.startsWith('data: '));
          if (!data) continue;
          const message = JSON.parse(data.slice('data: '.length)) as StoredMessage;
          if (matches(message)) resolve(message);
        }
      });
      response.on('end', () => reject(new Error('the inbox closed its event stream')));
      send().catch(reject);
    });
    request.on('error', reject);
  });
  return arrival.finally(() => request?.destroy());
}
