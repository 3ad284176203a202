/**
 * MTA-STS (RFC 8461): the `_mta-sts` TXT record announces a policy, and the policy file served over
 * HTTPS at mta-sts.<domain> must be reachable with a valid certificate and list every MX. A TXT
 * record without a fetchable policy is a fail: it promises senders a policy that is not there.
 */
import { request } from 'node:https';
import { parsePolicy, validateMx } from 'mailauth/lib/mta-sts';
import type { DnsClient } from './dns-client';
import { parseTags } from './dns-checks';
import { trustedCas } from './trust';
import { fail, pass, warn, type CheckResult } from './types';

const POLICY_PATH = '/.well-known/mta-sts.txt';

export interface PolicyFetch {
  address: string;
  port: number;
  servername: string;
  ca?: string;
  timeoutMs: number;
}

/** GET the policy from one address with SNI and Host set to mta-sts.<domain>; RFC 8461 §3.3: no redirects, 200 only. */
export function fetchPolicyText(options: PolicyFetch): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: options.address,
        port: options.port,
        path: POLICY_PATH,
        method: 'GET',
        servername: options.servername,
        headers: { host: options.servername },
        ca: trustedCas(options.ca),
        timeout: options.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode ?? '?'}`));
          else resolve(Buffer.concat(chunks).toString('utf8'));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

export async function checkMtaSts(dns: DnsClient, domain: string, mxHosts: string[], options: { httpsPort: number; ca?: string; timeoutMs: number }): Promise<CheckResult[]> {
  const txtName = `_mta-sts.${domain}`;
  const policyHost = `mta-sts.${domain}`;
  const url = `https://${policyHost}${POLICY_PATH}`;
  const found = await dns.txt(txtName);
  const publish = `publish TXT "v=STSv1; id=<policy id>" at ${txtName} and serve ${url} (mxkit:tls acme with mxkit:mtaStsMode; pulumi up does both)`;
  if (found.kind === 'error') return [warn('dns.mta-sts', 'dns', `could not look up TXT of ${txtName}: ${found.message}`, publish)];
  const records = found.kind === 'found' ? found.records.filter((record) => /^v=STSv1\s*(;|$)/i.test(record)) : [];
  if (records.length === 0) return [warn('dns.mta-sts', 'dns', `no MTA-STS record at ${txtName}: senders may deliver without TLS`, publish)];
  const id = parseTags(records[0]).get('id');
  // RFC 8461 §3.1: exactly one record, with an id of 1-32 alphanumerics.
  if (records.length > 1 || id === undefined || !/^[A-Za-z0-9]{1,32}$/.test(id)) {
    return [fail('dns.mta-sts', 'dns', records.length > 1 ? `${records.length} MTA-STS records at ${txtName}` : `MTA-STS record at ${txtName} has no valid id=`, publish)];
  }
  const results = [pass('dns.mta-sts', 'dns', `MTA-STS record at ${txtName}: id=${id}`)];
  const serve = `serve the policy at ${url} with a certificate valid for ${policyHost}, or remove ${txtName}`;
  const addresses = await dns.a(policyHost);
  if (addresses.kind !== 'found') {
    results.push(fail('dns.mta-sts-policy', 'dns', `${policyHost} has no A record (${addresses.kind === 'error' ? addresses.message : 'absent'})`, `publish an A record for ${policyHost}; ${serve}`));
    return results;
  }
  let text: string;
  try {
    text = await fetchPolicyText({ address: addresses.records[0], port: options.httpsPort, servername: policyHost, ca: options.ca, timeoutMs: options.timeoutMs });
  } catch (error) {
    results.push(fail('dns.mta-sts-policy', 'dns', `could not fetch ${url} from ${addresses.records[0]}:${options.httpsPort}: ${error instanceof Error ? error.message : String(error)}`, serve));
    return results;
  }
  let policy: ReturnType<typeof parsePolicy>;
  try {
    policy = parsePolicy(text);
  } catch (error) {
    results.push(fail('dns.mta-sts-policy', 'dns', `policy at ${url} is invalid: ${error instanceof Error ? error.message : String(error)}`, serve));
    return results;
  }
  const unlisted = mxHosts.filter((mx) => !validateMx(mx, policy).valid);
  if (unlisted.length > 0) {
    // In enforce mode senders refuse to deliver to an MX the policy does not list.
    results.push(fail('dns.mta-sts-policy', 'dns', `MTA-STS policy (mode ${policy.mode}) does not list MX ${unlisted.join(', ')}`, `add "mx: ${unlisted[0]}" to the policy and change the id in ${txtName}`));
    return results;
  }
  results.push(pass('dns.mta-sts-policy', 'dns', `MTA-STS policy: mode ${policy.mode}, mx ${(policy.mx ?? []).join(', ')}, max_age ${policy.maxAge ?? '?'}`));
  return results;
}
