/**
 * `mxkit check`: every DNS, service and reputation check for one domain, in the order a receiver
 * meets them. The host and its addresses come from DNS (or --host), so the service checks test
 * what the world reaches, not what a config file says.
 */
import { createDnsClient, normaliseName } from './dns-client';
import { checkCaa, checkDkim, checkDmarc, checkHostAddresses, checkMx, checkPtr, checkSpf, checkTlsRpt } from './dns-checks';
import { checkMtaSts } from './mta-sts-check';
import { checkOutbound } from './outbound-check';
import { summarise } from './report';
import { checkBlocklists } from './reputation';
import { runServiceChecks } from './service-checks';
import { fail, type CheckOptions, type CheckReport, type CheckResult } from './types';

export async function runChecks(options: CheckOptions): Promise<CheckReport> {
  const domain = normaliseName(options.domain);
  const dns = createDnsClient(options.dnsServer, options.timeoutMs);
  const checks: CheckResult[] = [];

  const mx = await checkMx(dns, domain, options.host);
  checks.push(mx.result);
  const host = mx.host;
  const { results, addresses } = await checkHostAddresses(dns, host);
  checks.push(...results);
  for (const address of addresses) checks.push(await checkPtr(dns, host, address));
  checks.push(...(await checkSpf(dns, domain, host, addresses)));
  checks.push(await checkDkim(dns, domain, options.selector));
  checks.push(await checkDmarc(dns, domain));
  checks.push(...(await checkMtaSts(dns, domain, mx.mxHosts.length ? mx.mxHosts : [host], { httpsPort: options.ports.https, ca: options.ca, timeoutMs: options.timeoutMs })));
  checks.push(await checkTlsRpt(dns, domain));
  checks.push(await checkCaa(dns, host));

  if (addresses.length === 0) {
    checks.push(fail('service.address', 'service', `no address for ${host}: service and blocklist checks skipped`, `publish an A record for ${host}`));
  } else {
    checks.push(
      ...(await runServiceChecks(addresses, {
        domain,
        host,
        ports: options.ports,
        closedPorts: options.closedPorts,
        ca: options.ca,
        relayTestRecipient: options.relayTestRecipient,
        timeoutMs: options.timeoutMs,
        now: options.now ?? (() => new Date()),
      })),
    );
    checks.push(...(await checkBlocklists(dns, addresses, options.dnsblZones)));
  }
  if (options.relayMetrics) checks.push(...(await checkOutbound(options.relayMetrics, options.timeoutMs)));
  return summarise(domain, host, addresses, checks);
}
