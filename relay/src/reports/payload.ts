/**
 * The report inside an attachment, whatever wraps it: gzip (RFC 1952), zip (PKWARE APPNOTE; the
 * format DMARC reporters use besides gzip, RFC 7489 7.2.1.1) or nothing. Decided by the bytes, not
 * by the declared type or file name (reporters label them every which way). Decompression is
 * capped (MAX_PAYLOAD_BYTES): a zip bomb fails with an error, it does not fill memory.
 */
import { gunzipSync, inflateRawSync } from 'node:zlib';

export const MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;

export class PayloadError extends Error {
  override name = 'PayloadError';
}

export type PayloadFormat = 'xml' | 'json' | 'unknown';

/** The uncompressed payload and what it looks like. */
export function unwrapPayload(data: Buffer, depth = 0): { bytes: Buffer; format: PayloadFormat } {
  if (depth > 2) throw new PayloadError('archive nested too deep');
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return unwrapPayload(gunzip(data), depth + 1);
  if (data.length >= 4 && data.readUInt32LE(0) === 0x04034b50) return unwrapPayload(unzipFirst(data), depth + 1);
  const start = data.subarray(0, 512).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (start.startsWith('<')) return { bytes: data, format: 'xml' };
  if (start.startsWith('{')) return { bytes: data, format: 'json' };
  return { bytes: data, format: 'unknown' };
}

function gunzip(data: Buffer): Buffer {
  try {
    return gunzipSync(data, { maxOutputLength: MAX_PAYLOAD_BYTES });
  } catch (error) {
    throw new PayloadError(`gzip: ${(error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? `larger than ${MAX_PAYLOAD_BYTES} bytes uncompressed` : (error as Error).message}`);
  }
}

/**
 * The first file of a zip archive (a report archive holds one). Reads the central directory from
 * the end-of-central-directory record, checks every offset against the archive's size, and
 * refuses encryption and ZIP64 (no reporter uses them for a report).
 */
export function unzipFirst(data: Buffer): Buffer {
  const eocd = findEndOfCentralDirectory(data);
  const entries = data.readUInt16LE(eocd + 10);
  let offset = data.readUInt32LE(eocd + 16);
  for (let index = 0; index < entries; index++) {
    need(data, offset, 46);
    if (data.readUInt32LE(offset) !== 0x02014b50) throw new PayloadError('zip: bad central directory');
    const flags = data.readUInt16LE(offset + 8);
    const method = data.readUInt16LE(offset + 10);
    const compressedSize = data.readUInt32LE(offset + 20);
    const size = data.readUInt32LE(offset + 24);
    const nameLength = data.readUInt16LE(offset + 28);
    const extraLength = data.readUInt16LE(offset + 30);
    const commentLength = data.readUInt16LE(offset + 32);
    const localOffset = data.readUInt32LE(offset + 42);
    const name = data.subarray(offset + 46, offset + 46 + nameLength).toString('utf8');
    offset += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue; // a folder
    if (flags & 1) throw new PayloadError('zip: encrypted');
    if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) throw new PayloadError('zip: ZIP64 is not supported');
    if (size > MAX_PAYLOAD_BYTES) throw new PayloadError(`zip: ${name} is larger than ${MAX_PAYLOAD_BYTES} bytes`);
    need(data, localOffset, 30);
    if (data.readUInt32LE(localOffset) !== 0x04034b50) throw new PayloadError('zip: bad local header');
    const start = localOffset + 30 + data.readUInt16LE(localOffset + 26) + data.readUInt16LE(localOffset + 28);
    need(data, start, compressedSize);
    const compressed = data.subarray(start, start + compressedSize);
    if (method === 0) return compressed;
    if (method !== 8) throw new PayloadError(`zip: compression method ${method} is not supported`);
    try {
      return inflateRawSync(compressed, { maxOutputLength: MAX_PAYLOAD_BYTES });
    } catch (error) {
      throw new PayloadError(`zip: ${(error as Error).message}`);
    }
  }
  throw new PayloadError('zip: no file in the archive');
}

function findEndOfCentralDirectory(data: Buffer): number {
  // The record is 22 bytes plus a comment of at most 65535.
  for (let offset = data.length - 22; offset >= Math.max(0, data.length - 22 - 65535); offset--) {
    if (data.readUInt32LE(offset) === 0x06054b50) return offset;
  }
  throw new PayloadError('zip: no end of central directory');
}

function need(data: Buffer, offset: number, length: number): void {
  if (offset < 0 || length < 0 || offset + length > data.length) throw new PayloadError('zip: truncated archive');
}
