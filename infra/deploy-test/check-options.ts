/** From a test stack's outputs and config to the options of `mxkit check` (pure, unit-tested). */
import { DEFAULT_DNSBL_ZONES } from '../../relay/src/check/defaults';
import type { CheckOptions } from '../../relay/src/check/types';
import type { StackConfig, StackOutputs } from './orchestrate';

export interface CheckExtras {
  /** PEM of an extra CA, e.g. Let's Encrypt staging's root for mxkit:tls acme-staging stacks. */
  ca?: string;
  dnsServer?: string;
  dnsblZones?: string[];
  timeoutMs?: number;
}

function outputString(outputs: StackOutputs, key: string): string | undefined {
  const value = outputs[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function checkOptionsFor(outputs: StackOutputs, config: StackConfig, extras: CheckExtras = {}): CheckOptions {
  const domain = config['mxkit:domain']?.value;
  if (!domain) throw new Error('the test stack has no mxkit:domain: set it in the template or with --config mxkit:domain=...');
  const host = outputString(outputs, 'hostname');
  if (!host) throw new Error('the stack has no "hostname" output: did pulumi up finish?');
  return {
    domain,
    host,
    selector: outputString(outputs, 'dkimSelector') ?? config['mxkit:dkimSelector']?.value ?? 'mx1',
    dnsServer: extras.dnsServer,
    ports: { smtp: 25, submission: 587, submissions: 465, https: 443 },
    // Port 22 is open on purpose when mxkit:sshCidr is set (from one address only).
    closedPorts: config['mxkit:sshCidr']?.value ? [] : [22],
    dnsblZones: extras.dnsblZones ?? DEFAULT_DNSBL_ZONES,
    ca: extras.ca,
    relayTestRecipient: 'mxkit-relay-test@example.org',
    timeoutMs: extras.timeoutMs ?? 10_000,
  };
}
