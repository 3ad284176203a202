/**
 * rspamd's HTTP scan API (rspamd.com/doc/developers/protocol.html): POST the message to
 * `/checkv2` with the SMTP context as request headers (IP, Helo, From, Rcpt, User, Queue-Id,
 * MTA-Name), get back JSON with `action`, `score` and `symbols`. The message goes out as a stream,
 * so it can come from a file as well as from memory. The whole exchange has one time limit and
 * the reply a size limit; anything unexpected is an RspamdError with a reason for the metric.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import * as z from 'zod';
import { builtOnFirstUse } from '../config/built-on-first-use';

/** The message: in memory, or a source that can be opened as a stream (a spool file). */
export type MessageBody = Buffer | { size: number; open(): Readable };

export interface RspamdRequest {
  body: MessageBody;
  clientAddress: string;
  helo: string;
  /** The client's verified reverse DNS name, when the caller looked it up (rspamd's `Hostname`). */
  hostname?: string;
  /** Envelope sender; '' for the null sender. */
  mailFrom: string;
  rcptTo: readonly string[];
  queueId: string;
  /** The authenticated user, if any: rspamd treats such mail as outbound. */
  user?: string;
  /** Our hostname, rspamd's authserv-id in headers it writes. */
  mtaName: string;
}

export interface RspamdSymbol {
  name: string;
  score: number;
  options: string[];
}

export interface RspamdResult {
  action: string;
  score: number;
  requiredScore?: number;
  symbols: RspamdSymbol[];
  /** messages.smtp_message: the text rspamd suggests for the SMTP reply. */
  smtpMessage?: string;
  /** With action "rewrite subject": the Subject rspamd wants. */
  subject?: string;
}

export type RspamdErrorReason = 'unavailable' | 'timeout' | 'http_status' | 'bad_reply' | 'read_error';

export class RspamdError extends Error {
  override name = 'RspamdError';
  constructor(
    readonly reason: RspamdErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/** A reply bigger than this is not a scan result (rspamd's are a few KB). */
const MAX_REPLY_BYTES = 1024 * 1024;

// Built at the first scan, not at every start (config/built-on-first-use.ts).
const replySchema = builtOnFirstUse(() =>
  z.object({
    action: z.string().max(64),
    score: z.number(),
    required_score: z.number().optional(),
    symbols: z
      .record(z.string(), z.object({ name: z.string().optional(), score: z.number().optional(), options: z.array(z.string()).optional() }).passthrough())
      .optional(),
    messages: z.object({ smtp_message: z.string().optional() }).passthrough().optional(),
    subject: z.string().optional(),
  }),
);

/** Header values go on one line: anything that could break the request is replaced. */
function headerValue(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 998);
}

export class RspamdClient {
  private readonly endpoint: URL;

  constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
  ) {
    this.endpoint = new URL('checkv2', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  }

  get url(): string {
    return this.endpoint.href;
  }

  async check(input: RspamdRequest): Promise<RspamdResult> {
    const body = Buffer.isBuffer(input.body) ? input.body : undefined;
    const size = body ? body.length : (input.body as { size: number }).size;
    const headers: Record<string, string | string[]> = {
      'Content-Length': String(size),
      IP: headerValue(input.clientAddress.replace(/^::ffff:(?=\d+\.)/i, '')),
      Helo: headerValue(input.helo),
      ...(input.hostname !== undefined ? { Hostname: headerValue(input.hostname) } : {}),
      // rspamd reads "<>" as the null sender.
      From: headerValue(input.mailFrom === '' ? '<>' : input.mailFrom),
      Rcpt: input.rcptTo.map(headerValue),
      'Queue-Id': headerValue(input.queueId),
      'MTA-Name': headerValue(input.mtaName),
      ...(input.user !== undefined ? { User: headerValue(input.user) } : {}),
    };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const response = await this.post(headers, controller.signal, body ?? (input.body as { open(): Readable }).open());
      const text = await readReply(response);
      if (response.statusCode !== 200) throw new RspamdError('http_status', `rspamd answered HTTP ${response.statusCode ?? '?'}`);
      return parseReply(text);
    } catch (error) {
      if (controller.signal.aborted) throw new RspamdError('timeout', `rspamd did not answer within ${this.timeoutMs} ms`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** rspamd's liveness answer (`GET /ping` → `pong`), for a start-up warning; never throws. */
  async ping(): Promise<boolean> {
    const url = new URL('ping', this.endpoint);
    const get = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const request = get(url, { method: 'GET', signal: AbortSignal.timeout(Math.min(this.timeoutMs, 5000)) }, (response) => {
        readReply(response).then(
          (text) => resolve(response.statusCode === 200 && text.trim() === 'pong'),
          () => resolve(false),
        );
      });
      request.on('error', () => resolve(false));
      request.end();
    });
  }

  private post(headers: Record<string, string | string[]>, signal: AbortSignal, body: Buffer | Readable): Promise<IncomingMessage> {
    const send = this.endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(this.endpoint, { method: 'POST', headers, signal }, resolve);
      request.on('error', (error: NodeJS.ErrnoException) => {
        if (error.name === 'AbortError') return reject(error);
        reject(new RspamdError('unavailable', `cannot reach rspamd at ${this.endpoint.origin}: ${error.code ?? error.message}`));
      });
      if (Buffer.isBuffer(body)) {
        request.end(body);
        return;
      }
      body.once('error', (error: Error) => {
        request.destroy();
        reject(new RspamdError('read_error', `cannot read the message for rspamd: ${error.message}`));
      });
      body.pipe(request);
    });
  }
}

async function readReply(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_REPLY_BYTES) {
      response.destroy();
      throw new RspamdError('bad_reply', `rspamd's reply is over ${MAX_REPLY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function parseReply(text: string): RspamdResult {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new RspamdError('bad_reply', 'rspamd answered something that is not JSON');
  }
  const parsed = replySchema().safeParse(document);
  if (!parsed.success) throw new RspamdError('bad_reply', `rspamd's reply lacks ${parsed.error.issues[0]?.path.join('.') || 'fields'}`);
  const reply = parsed.data;
  const symbols = Object.entries(reply.symbols ?? {}).map(([key, symbol]) => ({ name: symbol.name ?? key, score: symbol.score ?? 0, options: symbol.options ?? [] }));
  return {
    action: reply.action,
    score: reply.score,
    ...(reply.required_score !== undefined ? { requiredScore: reply.required_score } : {}),
    symbols,
    ...(reply.messages?.smtp_message !== undefined ? { smtpMessage: reply.messages.smtp_message } : {}),
    ...(reply.subject !== undefined ? { subject: reply.subject } : {}),
  };
}

/** For callers that hold the message as chunks or a file: a stream of a Buffer. */
export function bufferSource(message: Buffer): MessageBody {
  return { size: message.length, open: () => Readable.from([message]) };
}
