/**
 * One mail domain's Cloudflare zone: its records (builders/records.ts, for the whole deployment)
 * and, for the hosts whose names are in this zone, the reverse DNS (PTR) of their Elastic IPs.
 * cloudflare.DnsRecord args: registry.terraform.io/providers/cloudflare/cloudflare/latest/docs/resources/dns_record
 * (v5 / Pulumi v6: `content`, `data` for CAA, `ttl` required with 1 = automatic).
 */
import * as aws from '@pulumi/aws';
import * as cloudflare from '@pulumi/cloudflare';
import * as pulumi from '@pulumi/pulumi';
import { buildDeploymentRecords, type DeploymentRecordsInput, type DnsRecord } from '../builders/records';
import { describeZoneConflicts, findZoneConflicts, recordComment } from '../builders/zone-conflicts';

export interface DnsHost {
  hostname: string;
  publicIp: pulumi.Input<string>;
  /** The Elastic IP whose PTR is set to the host name. */
  eipAllocationId: pulumi.Input<string>;
}

export interface DnsDomain {
  domain: string;
  /** The relay's own report mailboxes for this domain (records.ts defaultReportMailboxes). */
  reportMailboxes?: { dmarc: string; tlsRpt: string };
  /** Another address for the reports (mxkit:reportsTo). */
  reportsTo?: string;
  /** SES's custom MAIL FROM domain of this domain (builders/records.ts). */
  sesMailFrom?: { domain: string; region: string };
  /** Published in this order (the first signs). */
  dkim: Array<{ selector: string; publicKeyPem: pulumi.Input<string> }>;
}

export interface MailDnsArgs {
  zoneId: string;
  /** The mail domain whose zone this is. */
  domain: string;
  /** Every host of the deployment, host 1 first. */
  hosts: DnsHost[];
  /** Every mail domain of the deployment (other zones' records are made by their own MailDns). */
  domains: DnsDomain[];
  /** Everything else the record builder takes. */
  options: Omit<DeploymentRecordsInput, 'hosts' | 'domains'>;
  /**
   * The selector whose key record earlier, single-key versions named `<name>-dkim`: that record
   * keeps its identity (a Pulumi alias), so upgrading never deletes and re-creates it.
   */
  legacyDkimSelector?: string;
}

/** Cloudflare's default page size is 100; a mail domain's zone rarely holds more than a few hundred records. */
const ZONE_LIST_LIMIT = 5000;

/** Stand-ins used only to learn which records exist (their keys, names and types) before values are known. */
const SHAPE_IP = '192.0.2.1';
const SHAPE_KEY = 'AAAA';

/** The A record key of host n (records.ts): host 1 keeps `a`. */
const addressKey = (index: number) => (index === 0 ? 'a' : `a-${index + 1}`);

export class MailDns extends pulumi.ComponentResource {
  readonly records: pulumi.Output<DnsRecord[]>;
  /** The host names whose PTR this zone set, in host order. */
  readonly ptrs: pulumi.Output<string>[];
  /** Resolves once the zone was found to hold nothing that fights our records; fails the program otherwise. */
  readonly zoneChecked: pulumi.Output<true>;

  constructor(name: string, args: MailDnsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mxkit:dns:MailDns', name, {}, opts);
    const build = (ips: string[], keys: string[][]) => {
      const zones = buildDeploymentRecords({
        ...args.options,
        hosts: args.hosts.map((host, index) => ({ hostname: host.hostname, ipv4: ips[index] })),
        domains: args.domains.map((entry, index) => ({
          domain: entry.domain,
          reportMailboxes: entry.reportMailboxes,
          reportsTo: entry.reportsTo,
          sesMailFrom: entry.sesMailFrom,
          dkim: entry.dkim.map((key, position) => ({ selector: key.selector, publicKey: keys[index][position] })),
        })),
      });
      const zone = zones.find((candidate) => candidate.domain === args.domain);
      if (!zone) throw new Error(`${args.domain} is not one of the deployment's domains`);
      return zone.records;
    };
    const ips = pulumi.all(args.hosts.map((host) => host.publicIp));
    const keys = pulumi.all(args.domains.map((entry) => pulumi.all(entry.dkim.map((key) => key.publicKeyPem))));
    this.records = pulumi.all([ips, keys]).apply(([addresses, publicKeys]) => build(addresses, publicKeys));
    // Resources must be declared outside apply (so previews show them): the set of records depends
    // only on plain options, so build it once with stand-in values and fill values in per key.
    // A record in another domain's zone (an RFC 7489 §7.1 report authorisation at someone else's
    // domain) is that zone's owner's to publish (`mxkit records` prints it).
    const shape = build(
      args.hosts.map(() => SHAPE_IP),
      args.domains.map((entry) => entry.dkim.map(() => SHAPE_KEY)),
    ).filter((record) => !record.external);
    // Before any record is written (preview included): records the zone already holds that would
    // fight ours stop the program. Every record's value waits for this check.
    const stack = pulumi.getStack();
    this.zoneChecked = cloudflare.getDnsRecordsOutput({ zoneId: args.zoneId, maxItems: ZONE_LIST_LIMIT }, { parent: this }).apply((zone): true => {
      const conflicts = findZoneConflicts(zone.results, shape, stack);
      if (conflicts.length > 0) throw new pulumi.RunError(describeZoneConflicts(conflicts, args.zoneId));
      return true;
    });
    const byKey = (key: string) => pulumi.all([this.records, this.zoneChecked]).apply(([records]) => records.find((r) => r.key === key) as DnsRecord);

    const made = new Map<string, cloudflare.DnsRecord>();
    for (const planned of shape) {
      const live = byKey(planned.key);
      const isAddress = planned.type === 'A' || planned.type === 'AAAA';
      const legacy = args.legacyDkimSelector !== undefined && planned.key === `dkim-${args.legacyDkimSelector.toLowerCase()}`;
      const record = new cloudflare.DnsRecord(
        `${name}-${planned.key}`,
        {
          zoneId: args.zoneId,
          // Full names in Punycode: what the API returns, so reads do not drift.
          name: planned.name,
          type: planned.type,
          ttl: planned.ttl,
          // CAA and SRV carry structured data; SRV's owner name is the full `_service._proto.domain`.
          ...(planned.type === 'CAA'
            ? { data: live.apply((r) => r.caa ?? {}) }
            : planned.type === 'SRV'
              ? { data: live.apply((r) => r.srv ?? {}) }
              : { content: live.apply((r) => r.content) }),
          ...(planned.priority !== undefined ? { priority: planned.priority } : {}),
          // The mail host must be reached directly: Cloudflare's proxy carries HTTP only, and a proxied
          // A record would publish Cloudflare's address instead of ours (breaking SMTP, SPF and the PTR match).
          ...(isAddress ? { proxied: false } : {}),
          comment: recordComment(stack, planned.key),
        },
        { parent: this, ...(legacy ? { aliases: [{ name: `${name}-dkim` }] } : {}) },
      );
      made.set(planned.key, record);
    }

    // PTR = host name, set only after the host's A record exists: AWS checks that the name resolves
    // to the address (docs.aws.amazon.com/AWSEC2/latest/UserGuide/elastic-ip-addresses-eip.html#Using_Elastic_Addressing_Reverse_DNS).
    // Depending on the A record also orders `pulumi destroy`: the PTR goes before the record and the address.
    this.ptrs = [];
    args.hosts.forEach((host, index) => {
      const address = made.get(addressKey(index));
      if (!address) return; // the host's name is in another of the deployment's zones
      const ptr = new aws.ec2.EipDomainName(
        index === 0 ? `${name}-ptr` : `${name}-ptr-${index + 1}`,
        { allocationId: host.eipAllocationId, domainName: address.name },
        { parent: this, dependsOn: [address] },
      );
      this.ptrs.push(ptr.domainName);
    });
    this.registerOutputs({ records: this.records, ptrs: this.ptrs, zoneChecked: this.zoneChecked });
  }
}
