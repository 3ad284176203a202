/**
 * `service.outbound-port-25`: can the relay deliver? Only the host itself knows whether its
 * outbound port 25 is open (clouds block it per account), so this reads the relay's own verdict,
 * its port-25 probe metric, from its metrics endpoint (listen.http, on loopback). Run elsewhere,
 * the endpoint is not there and the check is left out (unless --relay-metrics names it).
 */
import { fail, pass, warn, type CheckResult } from './types';

const ID = 'service.outbound-port-25';

export interface RelayMetricsOptions {
  url: string;
  /** Named on the command line: an unreachable endpoint is a warning, not a reason to skip. */
  required: boolean;
}

export interface OutboundFacts {
  smarthost?: boolean;
  /** target → 1 (open) or 0 (blocked). */
  port25: Map<string, number>;
}

/** The two metrics this check needs, from Prometheus text exposition. */
export function parseOutboundMetrics(text: string): OutboundFacts {
  const facts: OutboundFacts = { port25: new Map() };
  for (const line of text.split('\n')) {
    const smarthost = /^mxkit_outbound_smarthost (\S+)$/.exec(line);
    if (smarthost) facts.smarthost = Number(smarthost[1]) === 1;
    const port25 = /^mxkit_outbound_port25_open\{target="([^"]*)"\} (\S+)$/.exec(line);
    if (port25) facts.port25.set(port25[1], Number(port25[2]));
  }
  return facts;
}

export function judgeOutbound(facts: OutboundFacts): CheckResult {
  if (facts.smarthost) return pass(ID, 'service', 'the relay delivers through its smarthost (delivery.smarthost): outbound port 25 is not needed');
  const blocked = [...facts.port25].filter(([, value]) => value !== 1).map(([target]) => target);
  const open = [...facts.port25].filter(([, value]) => value === 1).map(([target]) => target);
  if (blocked.length > 0) {
    return fail(
      ID,
      'service',
      `outbound port 25 is blocked: the relay's probe to ${blocked.join(', ')} could not connect, so direct delivery only defers`,
      'ask AWS to lift the port-25 block (docs/deploy.md "First day"), or send through SES: pulumi config set mxkit:outbound ses && pulumi up (queued mail is kept)',
    );
  }
  if (open.length > 0) return pass(ID, 'service', `outbound port 25 is open (the relay's probe to ${open.join(', ')} connected)`);
  return warn(ID, 'service', 'the relay has not finished a port-25 probe yet (or cannot resolve its target)', 'run the check again in a minute; if this stays, look for "port-25 probe" in the relay log (journalctl -u mxkit-relay)');
}

export async function checkOutbound(options: RelayMetricsOptions, timeoutMs: number): Promise<CheckResult[]> {
  let text: string;
  try {
    const response = await fetch(options.url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    text = await response.text();
  } catch (error) {
    if (!options.required) return [];
    const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    return [warn(ID, 'service', `cannot read the relay's metrics at ${options.url}: ${reason}`, 'run mxkit check on the relay host (the metrics endpoint listens on loopback, listen.http)')];
  }
  const facts = parseOutboundMetrics(text);
  if (facts.smarthost === undefined) {
    if (!options.required) return [];
    return [warn(ID, 'service', `${options.url} does not serve mxkit's outbound metrics`, 'point --relay-metrics at the relay\'s listen.http /metrics (a relay of this version)')];
  }
  return [judgeOutbound(facts)];
}
