/**
 * Delivers one message to the recipients of one destination: the domain's MX hosts (RFC 5321 5.1,
 * with MTA-STS, RFC 8461) or, with `delivery.smarthost`, one authenticated upstream. Tries hosts in
 * order until one holds a transaction; only failures to reach a host move on to the next one
 * (RFC 5321 5.1: "try the next" on connection failure, not on a refusal).
 */
import { isIP } from 'node:net';
import type { Logger } from '../ops/logger';
import type { MtaStsPolicies } from './mta-sts';
import { MtaStsPolicies as Policies } from './mta-sts';
import { routeDomain } from './mx-routing';
import { isPublicAddress } from './public-address';
import { deliveredOutcome, localOutcome, replyOutcome, type Outcome } from './outcome';
import type { DeliveryResolver } from './resolver';
import type { SessionResult, SmtpTarget } from './smtp-client';
import type { TransmitJob, TransmitResult } from './transmit';

export interface Smarthost {
  host: string;
  port: number;
  auth?: { user: string; pass: string };
}

export interface TransportSettings {
  heloName: string;
  port: number;
  smarthost?: Smarthost;
  resolver: DeliveryResolver;
  mtaSts: MtaStsPolicies;
  logger: Logger;
  /** Extra trusted CAs for verified TLS (tests). */
  ca?: string[];
  /** delivery.allowPrivateAddresses: MX hosts may resolve to loopback/private addresses (tests, `mxkit local`). */
  allowPrivateAddresses?: boolean;
  /** Runs one transaction (transmit.ts), on a delivery worker thread (transmit-pool.ts) or in place. */
  transmit(job: TransmitJob): Promise<TransmitResult>;
}

export interface GroupResult {
  outcomes: Map<string, Outcome>;
  /** TLS used on the session that answered (for the TLS-share metric). */
  secure?: boolean;
}

/** What leaves for one group: the message, and whether it is DKIM-signed on its way out. */
export type Outgoing = Pick<TransmitJob, 'message' | 'sign'>;

export async function deliverGroup(settings: TransportSettings, domain: string, mailFrom: string, recipients: readonly string[], outgoing: Outgoing): Promise<GroupResult> {
  const all = (outcome: Outcome): GroupResult => ({ outcomes: new Map(recipients.map((recipient) => [recipient, outcome])) });
  const targets: SmtpTarget[] = [];
  if (settings.smarthost) {
    const { host, port, auth } = settings.smarthost;
    let addresses: string[];
    try {
      // Resolved through delivery.dnsServers like everything else; TLS still verifies the name.
      addresses = isIP(host) ? [host] : await settings.resolver.addresses(host);
    } catch (error) {
      return all(localOutcome('dns', `smarthost ${host}: address lookup failed: ${(error as Error).message}`));
    }
    if (addresses.length === 0) return all(localOutcome('dns', `smarthost ${host} has no address`));
    for (const address of addresses.slice(0, 2)) {
      // RFC 8314: 465 is implicit TLS; with credentials anything else must STARTTLS before AUTH,
      // verified either way. A smarthost we do not log in to (a relay on a private network, like
      // Postfix's relayhost at smtp_tls_security_level=may) gets opportunistic TLS instead.
      const tls = auth || port === 465 ? 'verified' : 'opportunistic';
      targets.push({ host: address, port, servername: host, heloName: settings.heloName, tls, implicitTls: port === 465, ...(auth ? { auth } : {}), ...(settings.ca && tls === 'verified' ? { ca: settings.ca } : {}) });
    }
  } else {
    const route = await routeDomain(settings.resolver, domain);
    if (route.kind === 'failed') return all(route.outcome);
    const policy = await settings.mtaSts.policyFor(domain);
    let skipped = 0;
    let notPublic = 0;
    for (const host of route.hosts) {
      const allowed = Policies.allows(policy, host.name);
      if (!allowed && policy.mode === 'enforce') {
        skipped++;
        settings.logger.warn({ domain, mx: host.name, policy: policy.mx }, 'MTA-STS enforce: MX not in policy, not used');
        continue;
      }
      if (!allowed) settings.logger.warn({ domain, mx: host.name }, 'MTA-STS testing: MX not in policy (delivering anyway)');
      let addresses: string[];
      try {
        addresses = await settings.resolver.addresses(host.name);
      } catch (error) {
        settings.logger.warn({ domain, mx: host.name, err: error }, 'MX address lookup failed');
        continue;
      }
      const enforce = policy.mode === 'enforce';
      const usable = settings.allowPrivateAddresses ? addresses : addresses.filter(isPublicAddress);
      if (usable.length < addresses.length) {
        notPublic += addresses.length - usable.length;
        settings.logger.warn({ domain, mx: host.name, addresses }, 'MX resolves to addresses that are not public: those are not used');
      }
      for (const address of usable.slice(0, 2)) {
        targets.push({ host: address, port: settings.port, servername: host.name, heloName: settings.heloName, tls: enforce ? 'verified' : 'opportunistic', ...(enforce && settings.ca ? { ca: settings.ca } : {}) });
      }
    }
    if (targets.length === 0) {
      if (skipped > 0) return all(localOutcome('mta_sts', `no MX of ${domain} matches its MTA-STS policy (RFC 8461 4.1)`));
      if (notPublic > 0) return all(localOutcome('dns', `the MX hosts of ${domain} resolve only to addresses that are not public (loopback, private, link-local)`));
      return all(localOutcome('dns', `no address for any MX of ${domain}`));
    }
  }

  let last: Outcome = localOutcome('connection', `no host for ${domain} could be reached`);
  const send = (target: SmtpTarget) => settings.transmit({ target, mailFrom, recipients: [...recipients], ...outgoing });
  for (const target of targets) {
    let result = await send(target);
    if (result.kind === 'unreachable' && result.failure === 'tls' && target.tls === 'opportunistic') {
      // Opportunistic TLS (RFC 7435): a broken handshake is retried in cleartext, as Postfix does at
      // "may"; never under MTA-STS enforce or to an authenticated smarthost ('verified' targets).
      settings.logger.info({ domain, host: target.servername, detail: result.detail }, 'STARTTLS handshake failed; retrying without TLS');
      result = await send({ ...target, plaintext: true });
    }
    // Signed or not sent at all: outcome 'dkim' defers until a key works.
    if (result.kind === 'unsigned') return all(localOutcome('dkim', result.detail));
    const outcomes = interpret(result, target.servername, target.host);
    if (outcomes) return { outcomes, secure: result.kind === 'session' ? result.secure : false };
    last = result.kind === 'unreachable' ? localOutcome(result.failure, `${target.servername} [${target.host}]: ${result.detail}`, target.servername) : last;
    settings.logger.info({ domain, host: target.servername, address: target.host, detail: last.detail }, 'host unreachable, trying the next');
  }
  return all(last);
}

function interpret(result: SessionResult, remoteMta: string, remoteAddress: string): Map<string, Outcome> | undefined {
  if (result.kind === 'unreachable') return undefined;
  const outcomes = new Map<string, Outcome>();
  for (const [recipient, reply] of result.replies) {
    outcomes.set(recipient, reply.code >= 200 && reply.code < 300 ? deliveredOutcome(reply.response, remoteMta, result.secure, remoteAddress) : { ...replyOutcome(reply.code, reply.response, remoteMta, remoteAddress), tls: result.secure });
  }
  return outcomes;
}
