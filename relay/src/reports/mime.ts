/**
 * Just enough MIME (RFC 2045/2046) to find the parts of a report message: headers, multipart
 * bodies split on their boundary, base64 and quoted-printable decoded. message/rfc822 parts are
 * kept whole (an ARF report's original message is read as its own message). Bounded: nesting
 * depth, part count and header size are capped, so a crafted message costs little.
 */

export interface MimePart {
  /** Lower-case type/subtype; text/plain when absent (RFC 2045 5.2). */
  contentType: string;
  params: Record<string, string>;
  /** Unfolded header section. */
  headers: string;
  /** The decoded body. */
  body: Buffer;
}

const MAX_DEPTH = 6;
const MAX_PARTS = 64;
const MAX_HEADER_BYTES = 64 * 1024;

/** Splits a message (or part) into its header section and body. */
export function splitHeaders(data: Buffer): { headers: string; body: Buffer } {
  const limit = Math.min(data.length, MAX_HEADER_BYTES);
  const crlf = data.subarray(0, limit + 4).indexOf('\r\n\r\n');
  const lf = data.subarray(0, limit + 2).indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { headers: unfold(data.subarray(0, crlf).toString('latin1')), body: data.subarray(crlf + 4) };
  if (lf >= 0) return { headers: unfold(data.subarray(0, lf).toString('latin1')), body: data.subarray(lf + 2) };
  // A header section that never ends (or is too long): treat it all as headers.
  return { headers: unfold(data.subarray(0, limit).toString('latin1')), body: Buffer.alloc(0) };
}

function unfold(text: string): string {
  return text.replace(/\r?\n[ \t]+/g, ' ');
}

/** Every value of a header field (case-insensitive name), in order. */
export function headerValues(headers: string, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const line of headers.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted) values.push(line.slice(colon + 1).trim());
  }
  return values;
}

export function headerValue(headers: string, name: string): string | undefined {
  return headerValues(headers, name)[0];
}

/** `type/subtype; a=b; c="d"` -> lower-case type and parameters (names lower-case). */
export function parseContentType(value: string | undefined): { type: string; params: Record<string, string> } {
  if (!value) return { type: 'text/plain', params: {} };
  const [type, ...rest] = value.split(';');
  const params: Record<string, string> = {};
  const text = rest.join(';');
  for (const match of text.matchAll(/([a-z0-9*_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)/gi)) {
    const raw = match[2];
    params[match[1].toLowerCase()] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
  }
  return { type: type.trim().toLowerCase() || 'text/plain', params };
}

export function decodeBody(body: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'base64':
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable':
      return Buffer.from(
        body
          .toString('latin1')
          .replace(/=\r?\n/g, '')
          .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        'latin1',
      );
    default:
      return body;
  }
}

function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Buffer[] = [];
  let position = body.indexOf(delimiter);
  while (position >= 0 && parts.length <= MAX_PARTS) {
    const lineEnd = body.indexOf('\n', position);
    if (lineEnd < 0) break;
    const closing = body.subarray(position + delimiter.length, position + delimiter.length + 2).toString('latin1') === '--';
    if (closing) break;
    let next = body.indexOf(delimiter, lineEnd);
    // A delimiter only counts at the start of a line.
    while (next > 0 && body[next - 1] !== 0x0a) next = body.indexOf(delimiter, next + 1);
    const end = next < 0 ? body.length : next;
    let content = body.subarray(lineEnd + 1, end);
    if (content.subarray(-2).toString('latin1') === '\r\n') content = content.subarray(0, -2);
    else if (content.subarray(-1).toString('latin1') === '\n') content = content.subarray(0, -1);
    parts.push(content);
    if (next < 0) break;
    position = next;
  }
  return parts;
}

/** The leaf parts of a message, in order (a single-part message is its own leaf). */
export function leafParts(message: Buffer): MimePart[] {
  const leaves: MimePart[] = [];
  const visit = (data: Buffer, depth: number) => {
    if (leaves.length >= MAX_PARTS) return;
    const { headers, body } = splitHeaders(data);
    const { type, params } = parseContentType(headerValue(headers, 'content-type'));
    if (type.startsWith('multipart/') && params.boundary && depth < MAX_DEPTH) {
      for (const part of splitMultipart(body, params.boundary)) visit(part, depth + 1);
      return;
    }
    leaves.push({ contentType: type, params, headers, body: decodeBody(body, headerValue(headers, 'content-transfer-encoding')) });
  };
  visit(message, 0);
  return leaves;
}

/** The file name a part carries (Content-Disposition filename, or Content-Type name). */
export function fileNameOf(part: MimePart): string | undefined {
  const disposition = parseContentType(`x/x; ${(headerValue(part.headers, 'content-disposition') ?? '').replace(/^[^;]*;?/, '')}`).params;
  const name = disposition.filename ?? disposition['filename*'] ?? part.params.name ?? part.params['name*'];
  return name?.replace(/^[a-z0-9-]*'[a-z-]*'/i, '');
}
