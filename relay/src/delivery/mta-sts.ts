/**
 * MTA-STS (RFC 8461). The `_mta-sts` TXT record announces a policy id; the policy itself comes
 * from https://mta-sts.<domain>/.well-known/mta-sts.txt (3.3: certificate verified, no redirects,
 * bounded size). Policies are cached until max_age and refetched when the id changes (5.1). If a
 * policy cannot be fetched and none is cached, mail goes out as if there were none (5.1 / 8.3).
 * Under `enforce`, only MX hosts matching the policy are used and only over verified TLS: a
 * mismatch or a failed handshake defers, never falls back to cleartext (5).
 *
 * The fetch URL, the TLS name and the CA are injectable (DeliveryHooks.mtaSts) so tests can serve a
 * policy from a loopback HTTPS server; production always uses the RFC URL and the system CAs.
 */
import { request } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { MTASTSPolicy } from 'mailauth';
import { parsePolicy, resolvePolicy, validateMx } from 'mailauth/lib/mta-sts';
import type { Logger } from '../ops/logger';
import { isPublicAddress } from './public-address';
import type { DeliveryResolver } from './resolver';

export interface MtaStsFetchOverride {
  /** URL to fetch the policy of `domain` from (tests: https://127.0.0.1:PORT/...). */
  url(domain: string): string;
  /** Extra trusted CAs for the policy host. */
  ca?: string[];
}

const MAX_POLICY_BYTES = 64 * 1024; // RFC 8461 3.3 suggests a limit; 64 KiB is generous
const FETCH_TIMEOUT_MS = 60_000; // RFC 8461 3.3: "a timeout of 60 seconds"

interface CachedPolicy {
  policy: MTASTSPolicy;
  expires: number;
}

export class MtaStsPolicies {
  private readonly cache = new Map<string, CachedPolicy>();

  constructor(
    private readonly resolver: DeliveryResolver,
    private readonly logger: Logger,
    private readonly override?: MtaStsFetchOverride,
    /** delivery.allowPrivateAddresses: the policy host may resolve to loopback/private addresses. */
    private readonly allowPrivateAddresses = false,
  ) {}

  /** The policy in force for `domain` (mode "none" when it publishes none). */
  async policyFor(domain: string): Promise<MTASTSPolicy> {
    const cached = this.cache.get(domain);
    let id: string | false;
    try {
      id = await resolvePolicy(domain, { resolver: this.resolver.forMailauth });
    } catch (error) {
      // DNS trouble: keep using a cached policy (RFC 8461 5.1), else none.
      this.logger.warn({ domain, err: error }, 'MTA-STS TXT lookup failed');
      return cached && cached.expires > Date.now() ? cached.policy : { mode: 'none' };
    }
    if (!id) return cached && cached.expires > Date.now() ? cached.policy : { mode: 'none' };
    if (cached && cached.policy.id === id && cached.expires > Date.now()) return cached.policy;
    try {
      const text = await this.fetch(domain);
      const policy: MTASTSPolicy = { ...parsePolicy(text), id };
      this.cache.set(domain, { policy, expires: Date.now() + (policy.maxAge ?? 86_400) * 1000 });
      this.logger.info({ domain, mode: policy.mode, mx: policy.mx }, 'MTA-STS policy fetched');
      return policy;
    } catch (error) {
      this.logger.warn({ domain, err: error }, 'MTA-STS policy fetch failed');
      return cached ? cached.policy : { mode: 'none' };
    }
  }

  /** RFC 8461 4.1: does `mx` match the policy? Always true for "none". */
  static allows(policy: MTASTSPolicy, mx: string): boolean {
    return validateMx(mx, policy).valid;
  }

  private fetch(domain: string): Promise<string> {
    const host = `mta-sts.${domain}`;
    const url = new URL(this.override?.url(domain) ?? `https://${host}/.well-known/mta-sts.txt`);
    // Resolve through our resolver (delivery.dnsServers), like every other delivery lookup.
    const lookup: LookupFunction = (hostname, options, callback) => {
      if (isIP(hostname)) return callback(null, [{ address: hostname, family: isIP(hostname) }]);
      this.resolver.addresses(hostname).then(
        (resolved) => {
          // Only public addresses (public-address.ts): a hostile domain must not aim our fetch inside.
          const addresses = this.allowPrivateAddresses ? resolved : resolved.filter(isPublicAddress);
          if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no ${resolved.length > 0 ? 'public ' : ''}address`), { code: 'ENOTFOUND' }), '', 4);
          if (options.all) return callback(null, addresses.map((address) => ({ address, family: isIP(address) })));
          callback(null, addresses[0], isIP(addresses[0]));
        },
        (error: NodeJS.ErrnoException) => callback(error, '', 4),
      );
    };
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        { servername: host, headers: { host }, lookup, rejectUnauthorized: true, timeout: FETCH_TIMEOUT_MS, ...(this.override?.ca ? { ca: this.override.ca } : {}) },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_POLICY_BYTES) req.destroy(new Error('MTA-STS policy too large'));
            else chunks.push(chunk);
          });
          response.on('end', () => {
            // RFC 8461 3.3: only 200 counts; redirects are not followed.
            if (response.statusCode !== 200) reject(new Error(`MTA-STS policy answered HTTP ${response.statusCode}`));
            else resolve(Buffer.concat(chunks).toString('utf8'));
          });
          response.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('MTA-STS policy fetch timed out')));
      req.on('error', reject);
      req.end();
    });
  }
}
