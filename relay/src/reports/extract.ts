/**
 * From a report message to a parsed report or the reason there is none: the attachment is found
 * by its bytes (reports/payload.ts), so a reporter's odd Content-Type does not matter. Every
 * failure is an answer ('empty' or 'malformed' with the problem), never an exception: a report
 * message is hostile input and must not stop delivery.
 */
import { ReportFormatError, parseDmarcXml, type DmarcReport } from './dmarc';
import { leafParts } from './mime';
import { PayloadError, unwrapPayload, type PayloadFormat } from './payload';
import { parseTlsRptJson, type TlsReport } from './tlsrpt';
import { XmlError } from './xml';

export type Extracted<T> = { result: 'stored'; report: T } | { result: 'empty' | 'malformed'; problem: string };

/** Cap on the XML/JSON text handed to a parser. */
const MAX_DOCUMENT_CHARS = 32 * 1024 * 1024;

function extract<T>(message: Buffer, format: PayloadFormat, parse: (text: string) => T): Extracted<T> {
  const parts = leafParts(message).filter((part) => part.body.length > 0);
  // The human-readable text of the message is not the report, unless it is the report itself.
  const candidates = parts.filter((part) => !/^text\/(plain|html)$/.test(part.contentType) || /^\s*[<{]/.test(part.body.subarray(0, 64).toString('latin1')));
  if (candidates.length === 0) return { result: 'empty', problem: 'no report attached' };
  let problem = 'no report attached';
  for (const part of candidates) {
    try {
      const payload = unwrapPayload(part.body);
      if (payload.bytes.length === 0) {
        problem = 'the report is empty';
        continue;
      }
      if (payload.format !== format) {
        problem = `the attachment (${part.contentType}) is not ${format === 'xml' ? 'an XML' : 'a JSON'} report`;
        continue;
      }
      if (payload.bytes.length > MAX_DOCUMENT_CHARS) return { result: 'malformed', problem: 'the report is too large' };
      return { result: 'stored', report: parse(payload.bytes.toString('utf8')) };
    } catch (error) {
      // Any failure of a parser on hostile bytes is that report's problem, never the relay's.
      const known = error instanceof PayloadError || error instanceof ReportFormatError || error instanceof XmlError;
      return { result: 'malformed', problem: known ? error.message : `unreadable: ${String((error as Error).message ?? error).slice(0, 200)}` };
    }
  }
  return { result: problem === 'the report is empty' ? 'empty' : 'malformed', problem };
}

export function extractDmarc(message: Buffer): Extracted<DmarcReport> {
  return extract(message, 'xml', parseDmarcXml);
}

export function extractTlsRpt(message: Buffer): Extracted<TlsReport> {
  return extract(message, 'json', parseTlsRptJson);
}
