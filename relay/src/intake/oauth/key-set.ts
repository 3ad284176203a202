/**
 * An identity provider's signing keys (a JSON Web Key Set, RFC 7517 section 5), from its jwks_uri
 * or from a file, cached. Providers rotate keys by publishing the new one before they sign with it,
 * so a token whose `kid` we do not know makes us fetch the set again, once: a refetch is allowed at
 * most every `refetchCooldownMs`, so tokens with made-up `kid`s cannot make the relay hammer the
 * provider. Fresh keys are kept `maxAgeMs`; when the provider is unreachable, the last good set
 * stays in use up to `staleLimitMs` (mail keeps flowing through a short outage of the provider).
 */
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, errors, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters, type KeyLike } from 'jose';
import type { Logger } from '../../ops/logger';

/** Key sets are a few kilobytes; anything far larger is not one. */
export const MAX_KEY_SET_BYTES = 256 * 1024;
const FETCH_TIMEOUT_MS = 5_000;

export interface KeySetSource {
  /** For logs and errors: the URL or the file. */
  readonly origin: string;
  load(): Promise<JSONWebKeySet>;
}

export class KeySetUnavailable extends Error {
  override name = 'KeySetUnavailable';
}

/** Checks the shape jose needs (an object with a `keys` array of objects) and builds its resolver. */
export function parseKeySet(value: unknown, origin: string): { set: JSONWebKeySet; resolve: ReturnType<typeof createLocalJWKSet> } {
  try {
    const set = value as JSONWebKeySet;
    return { set, resolve: createLocalJWKSet(set) };
  } catch {
    throw new KeySetUnavailable(`${origin} is not a JSON Web Key Set (an object with a "keys" array)`);
  }
}

function parseJson(text: string, origin: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new KeySetUnavailable(`${origin} is not JSON`);
  }
}

/** GET over HTTPS (HTTP on loopback, which the config allows for tests), bounded in time and size. */
export function urlKeySetSource(url: string, timeoutMs = FETCH_TIMEOUT_MS): KeySetSource {
  return {
    origin: url,
    async load() {
      let response: Response;
      try {
        // No redirects: a key set URL that moves is a configuration to fix, not something to follow.
        response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
      } catch (error) {
        throw new KeySetUnavailable(`cannot fetch ${url}: ${(error as Error).name === 'TimeoutError' ? `no answer in ${timeoutMs} ms` : (error as Error).message}`);
      }
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined);
        throw new KeySetUnavailable(`${url} answered HTTP ${response.status}`);
      }
      return parseKeySet(parseJson(await readBounded(response, url), url), url).set;
    },
  };
}

async function readBounded(response: Response, url: string): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_KEY_SET_BYTES) {
    await response.body?.cancel().catch(() => undefined);
    throw new KeySetUnavailable(`${url} is larger than ${MAX_KEY_SET_BYTES} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  if (!reader) return '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_KEY_SET_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new KeySetUnavailable(`${url} is larger than ${MAX_KEY_SET_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function fileKeySetSource(path: string): KeySetSource {
  return {
    origin: path,
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        throw new KeySetUnavailable(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      if (Buffer.byteLength(text) > MAX_KEY_SET_BYTES) throw new KeySetUnavailable(`${path} is larger than ${MAX_KEY_SET_BYTES} bytes`);
      return parseKeySet(parseJson(text, path), path).set;
    },
  };
}

export interface KeySetCacheOptions {
  maxAgeMs?: number;
  refetchCooldownMs?: number;
  staleLimitMs?: number;
  now?: () => number;
  logger?: Logger;
}

interface Loaded {
  resolve: ReturnType<typeof createLocalJWKSet>;
  loadedAt: number;
}

export class KeySetCache {
  private loaded?: Loaded;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private inFlight?: Promise<Loaded>;
  private readonly maxAgeMs: number;
  private readonly refetchCooldownMs: number;
  private readonly staleLimitMs: number;
  private readonly now: () => number;
  /** Fetches made, for metrics and tests. */
  fetches = 0;

  constructor(
    readonly source: KeySetSource,
    private readonly options: KeySetCacheOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.refetchCooldownMs = options.refetchCooldownMs ?? 30_000;
    this.staleLimitMs = options.staleLimitMs ?? 24 * 3_600_000;
    this.now = options.now ?? Date.now;
  }

  /** Starts with an already loaded set (a jwksFile read when the config was validated). */
  prime(set: JSONWebKeySet): void {
    this.loaded = { resolve: parseKeySet(set, this.source.origin).resolve, loadedAt: this.now() };
    this.lastAttemptAt = this.now();
  }

  /** Loads the set if it never was (start-up warm-up); a failure is thrown to the caller to log. */
  async ensureLoaded(): Promise<void> {
    if (!this.loaded) await this.refresh();
  }

  /** The key for a token's header, refetching the set once if its `kid` is unknown (and the cooldown allows). */
  async keyFor(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<KeyLike> {
    let loaded = this.loaded;
    if (!loaded || this.now() - loaded.loadedAt > this.maxAgeMs) loaded = await this.refresh();
    try {
      return await loaded.resolve(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || !this.mayRefetch()) throw error;
      const refreshed = await this.refresh();
      return refreshed.resolve(header, token);
    }
  }

  private mayRefetch(): boolean {
    return this.now() - this.lastAttemptAt >= this.refetchCooldownMs;
  }

  /** One load at a time; on failure the previous set is kept while it is younger than staleLimitMs. */
  private refresh(): Promise<Loaded> {
    this.inFlight ??= this.load().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async load(): Promise<Loaded> {
    const previous = this.loaded;
    if (!this.mayRefetch()) {
      // Also after a failed first load: a provider that is down is asked again only after the cooldown.
      if (previous) return previous;
      throw new KeySetUnavailable(`${this.source.origin}: no signing keys yet (the last fetch failed; next try in at most ${this.refetchCooldownMs} ms)`);
    }
    this.lastAttemptAt = this.now();
    this.fetches++;
    try {
      const set = await this.source.load();
      this.loaded = { resolve: parseKeySet(set, this.source.origin).resolve, loadedAt: this.now() };
      return this.loaded;
    } catch (error) {
      if (previous && this.now() - previous.loadedAt <= this.staleLimitMs) {
        this.options.logger?.warn({ keys: this.source.origin, err: error }, 'cannot refresh the OAuth signing keys; using the ones fetched earlier');
        return previous;
      }
      throw error instanceof KeySetUnavailable ? error : new KeySetUnavailable(`${this.source.origin}: ${(error as Error).message}`);
    }
  }
}
