/**
 * The operations endpoint: /healthz (process alive), /readyz (every listener up, not draining),
 * /metrics, and the deliverability pages (pages.ts: /reports, /trace/<queue-id>).
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { PageResponse } from './pages';

export interface HealthSource {
  isReady(): boolean;
}

/** Extra read-only pages: undefined means "not mine" (404). */
export type PageSource = (path: string, query: URLSearchParams) => Promise<PageResponse | undefined>;

const PAGE_HEADERS = {
  // Pages show other people's text (reports, remote replies): nothing runs, nothing loads from elsewhere.
  'content-security-policy': "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export function createOpsServer(health: HealthSource, registry: Registry, pages?: PageSource): Server {
  return createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://ops.invalid');
    const path = url.pathname;
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = health.isReady();
      response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
    } else if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text))
        .catch(() => response.writeHead(500).end());
    } else if (pages && (request.method === 'GET' || request.method === 'HEAD')) {
      pages(path, url.searchParams)
        .then((page) => {
          if (!page) return response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
          response.writeHead(page.status, { ...PAGE_HEADERS, 'content-type': page.type, 'content-length': Buffer.byteLength(page.body) }).end(page.body);
        })
        .catch(() => response.writeHead(500, { 'content-type': 'text/plain' }).end('could not read the store\n'));
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
}
