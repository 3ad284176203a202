/**
 * The MTA-STS policy the relay serves (RFC 8461 §3.2). Either built from `mtaSts.mode`/`maxAge`
 * and the relay's own host name, or read from `mtaSts.policyFile`: a deployment of several hosts
 * serves one policy listing every MX, and that list changes when a host is added or removed
 * without any host's own config changing. The file is read at start (missing or invalid: the
 * relay does not start) and again whenever it changes; a changed file that is not a valid policy
 * is logged and the last good one is kept, so a bad write never takes the policy away.
 */
import { readFile, stat } from 'node:fs/promises';
import { parsePolicy, validateMx } from 'mailauth/lib/mta-sts';
import { mtaStsPolicy } from '../../../infra/builders/records';
import { ConfigError, type RelayConfig } from '../config/schema';
import type { Logger } from '../ops/logger';

/** RFC 8461 §3.3: senders may refuse policies over 64 KB; ours are a few lines. */
export const MAX_POLICY_BYTES = 64 * 1024;

export interface PolicySource {
  /** The policy text to answer with now (undefined: no policy, 404). */
  current(): Promise<string | undefined>;
}

/**
 * The policy with every line ended by CRLF (RFC 8461 §3.2) and no blank lines after the last: the
 * file may have been written by a tool that ends it with a single LF (the AWS CLI does), and what
 * is served must be the exact text whose hash the `_mta-sts` TXT record announces.
 */
export function canonicalPolicy(text: string): string {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  return lines.map((line) => `${line}\r\n`).join('');
}

/** Throws with the reason when `text` is not a policy RFC 8461 §3.2 senders would accept. */
function checkPolicy(text: string): void {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw new Error(`larger than ${MAX_POLICY_BYTES} bytes`);
  parsePolicy(text);
}

/** Whether the policy names this host, so senders under `enforce` will deliver to it. */
function listsHost(text: string, hostname: string): boolean {
  return validateMx(hostname, parsePolicy(text)).valid;
}

interface Version {
  mtimeMs: number;
  size: number;
  ino: number;
}

class PolicyFile implements PolicySource {
  private checking: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    private text: string,
    private version: Version,
    private readonly hostname: string,
    private readonly logger: Logger,
  ) {}

  async current(): Promise<string> {
    // One check at a time; requests arriving meanwhile wait for it instead of reading again.
    this.checking ??= this.refresh().finally(() => (this.checking = undefined));
    await this.checking;
    return this.text;
  }

  private async refresh(): Promise<void> {
    try {
      const found = await stat(this.path);
      if (found.mtimeMs === this.version.mtimeMs && found.size === this.version.size && found.ino === this.version.ino) return;
      if (found.size > MAX_POLICY_BYTES) throw new Error(`larger than ${MAX_POLICY_BYTES} bytes`);
      const text = canonicalPolicy(await readFile(this.path, 'utf8'));
      checkPolicy(text);
      this.version = { mtimeMs: found.mtimeMs, size: found.size, ino: found.ino };
      if (text === this.text) return;
      this.text = text;
      this.logger.info({ policyFile: this.path, listsThisHost: listsHost(text, this.hostname) }, 'MTA-STS policy reloaded');
    } catch (error) {
      this.logger.error({ policyFile: this.path, err: error }, 'cannot reload the MTA-STS policy; still serving the previous one');
    }
  }
}

/** The policy source for a config; reads and checks `mtaSts.policyFile` now (fail closed). */
export async function openPolicySource(config: Pick<RelayConfig, 'mtaSts' | 'hostname'>, logger: Logger): Promise<PolicySource> {
  const mtaSts = config.mtaSts;
  if (!mtaSts) return { current: async () => undefined };
  if (mtaSts.policyFile === undefined) {
    let text: string;
    try {
      text = mtaStsPolicy(mtaSts.mode, [config.hostname], mtaSts.maxAge);
    } catch (error) {
      throw new ConfigError(`mtaSts.maxAge: ${(error as Error).message}`);
    }
    return { current: async () => text };
  }
  const path = mtaSts.policyFile;
  let text: string;
  let found: Version;
  try {
    found = await stat(path);
    if (found.size > MAX_POLICY_BYTES) throw new Error(`larger than ${MAX_POLICY_BYTES} bytes`);
    text = canonicalPolicy(await readFile(path, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`mtaSts.policyFile: cannot read ${path}: ${code ?? (error as Error).message}`);
  }
  try {
    checkPolicy(text);
  } catch (error) {
    throw new ConfigError(`mtaSts.policyFile: ${path} is not an MTA-STS policy (RFC 8461 §3.2): ${(error as Error).message}`);
  }
  // Served anyway: during a change of hosts the list may briefly lag; senders under `enforce` then
  // use the hosts it does list.
  if (!listsHost(text, config.hostname)) logger.warn({ policyFile: path, hostname: config.hostname }, 'the MTA-STS policy does not list this host');
  return new PolicyFile(path, text, { mtimeMs: found.mtimeMs, size: found.size, ino: found.ino }, config.hostname, logger);
}
