/** The one plain-HTTP GET of the tests: the status, the Content-Type and the body as text. */
import { get } from 'node:http';

export interface TextAnswer {
  status: number;
  type: string;
  body: string;
}

export function fetchText(url: string): Promise<TextAnswer> {
  return new Promise((resolve, reject) => {
    get(url, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type']), body }));
    }).on('error', reject);
  });
}

/** GET http://127.0.0.1:port/path: a relay's ops listener. */
export function getLocal(port: number, path: string): Promise<TextAnswer> {
  return fetchText(`http://127.0.0.1:${port}${path}`);
}
