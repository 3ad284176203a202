/**
 * The inbox's small web server on loopback: the page, the messages as JSON (for scripts and
 * tests), each message's raw source, and a Server-Sent Events stream that announces arrivals.
 * Read-only: nothing here changes the mailbox.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenError } from './errors';
import { INBOX_CSS, INBOX_JS, renderInboxPage } from './inbox-html';
import type { InboxStore } from './inbox-store';

export interface InboxPage {
  url: string;
  close(): Promise<void>;
}

export interface InboxPageOptions {
  host: string;
  port: number;
  store: InboxStore;
  domain: string;
  mta: string;
  /** Where a message's trace is shown (the relay's ops listener), once the relay runs. */
  traceUrl?: (queueId: string) => string | undefined;
}

const SECURITY_HEADERS = {
  // Message contents are attacker-controlled: no inline script, nothing loaded from elsewhere.
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(response: ServerResponse, status: number, type: string, body: string | Buffer): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

function streamEvents(store: InboxStore, request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
  // Subscribed before the headers reach the client: whoever waits for the response to start
  // cannot miss a message that arrives right after.
  const unsubscribe = store.onMessage((message) => response.write(`data: ${JSON.stringify(message)}\n\n`));
  response.flushHeaders();
  request.on('close', unsubscribe);
}

async function route(options: InboxPageOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  const path = new URL(request.url ?? '/', 'http://inbox.invalid').pathname;
  const raw = /^\/messages\/([^/]+)\/raw$/.exec(path);
  if (raw) {
    const source = await options.store.raw(decodeURIComponent(raw[1]));
    // text/plain with nosniff: a browser shows the source and never renders HTML parts of it.
    return source ? send(response, 200, 'text/plain; charset=utf-8', source) : send(response, 404, 'text/plain; charset=utf-8', 'no such message\n');
  }
  switch (path) {
    case '/':
      return send(response, 200, 'text/html; charset=utf-8', renderInboxPage(await options.store.list(), options));
    case '/api/messages':
      return send(response, 200, 'application/json; charset=utf-8', `${JSON.stringify(await options.store.list(), null, 2)}\n`);
    case '/events':
      return streamEvents(options.store, request, response);
    case '/inbox.css':
      return send(response, 200, 'text/css; charset=utf-8', INBOX_CSS);
    case '/inbox.js':
      return send(response, 200, 'text/javascript; charset=utf-8', INBOX_JS);
    default:
      return send(response, 404, 'text/plain; charset=utf-8', 'not found\n');
  }
}

export async function startInboxPage(options: InboxPageOptions): Promise<InboxPage> {
  const server = createServer((request, response) => {
    route(options, request, response).catch((error: Error) => {
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', `${error.message}\n`);
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError('inbox page', options.host, options.port, error)));
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Event streams stay open for as long as a page is; end them so closing does not wait.
        server.closeAllConnections();
      }),
  };
}
