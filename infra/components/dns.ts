/**
 * The domain's mail records on Cloudflare, all from builders/records.ts, and the reverse DNS (PTR)
 * of the Elastic IP. cloudflare.DnsRecord args: registry.terraform.io/providers/cloudflare/cloudflare/latest/docs/resources/dns_record
 * (v5 / Pulumi v6: `content`, `data` for CAA, `ttl` required with 1 = automatic).
 */
import * as aws from '@pulumi/aws';
import * as cloudflare from '@pulumi/cloudflare';
import * as pulumi from '@pulumi/pulumi';
import { buildMailRecords, type DnsRecord, type MailRecordsInput } from '../builders/records';
import { describeZoneConflicts, findZoneConflicts, recordComment } from '../builders/zone-conflicts';

export interface MailDnsArgs {
  zoneId: string;
  /** Everything the record builder takes except the values only known after deployment. */
  records: Omit<MailRecordsInput, 'ipv4' | 'dkim'> & { dkimSelector: string };
  publicIp: pulumi.Input<string>;
  dkimPublicKeyPem: pulumi.Input<string>;
  /** The Elastic IP whose PTR is set to the host name. */
  eipAllocationId: pulumi.Input<string>;
}

/** Cloudflare's default page size is 100; a mail domain's zone rarely holds more than a few hundred records. */
const ZONE_LIST_LIMIT = 5000;

/** Stand-ins used only to learn which records exist (their keys, names and types) before values are known. */
const SHAPE_IP = '192.0.2.1';
const SHAPE_KEY = 'AAAA';

export class MailDns extends pulumi.ComponentResource {
  readonly records: pulumi.Output<DnsRecord[]>;
  readonly ptr: pulumi.Output<string>;
  /** Resolves once the zone was found to hold nothing that fights our records; fails the program otherwise. */
  readonly zoneChecked: pulumi.Output<true>;

  constructor(name: string, args: MailDnsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mxkit:dns:MailDns', name, {}, opts);
    const { dkimSelector, ...options } = args.records;
    this.records = pulumi
      .all([args.publicIp, args.dkimPublicKeyPem])
      .apply(([ipv4, publicKey]) => buildMailRecords({ ...options, ipv4, dkim: { selector: dkimSelector, publicKey } }));
    // Resources must be declared outside apply (so previews show them): the set of records depends
    // only on plain options, so build it once with stand-in values and fill values in per key.
    // A record in another domain's zone (an RFC 7489 7.1 report authorisation) is that zone's to publish.
    const shape = buildMailRecords({ ...options, ipv4: SHAPE_IP, dkim: { selector: dkimSelector, publicKey: SHAPE_KEY } }).filter((record) => !record.external);
    // Before any record is written (preview included): records the zone already holds that would
    // fight ours stop the program. Every record's value waits for this check.
    const stack = pulumi.getStack();
    this.zoneChecked = cloudflare.getDnsRecordsOutput({ zoneId: args.zoneId, maxItems: ZONE_LIST_LIMIT }, { parent: this }).apply((zone): true => {
      const conflicts = findZoneConflicts(zone.results, shape, stack);
      if (conflicts.length > 0) throw new pulumi.RunError(describeZoneConflicts(conflicts, args.zoneId));
      return true;
    });
    const byKey = (key: string) => pulumi.all([this.records, this.zoneChecked]).apply(([records]) => records.find((r) => r.key === key) as DnsRecord);

    let hostA: cloudflare.DnsRecord | undefined;
    for (const planned of shape) {
      const live = byKey(planned.key);
      const isAddress = planned.type === 'A' || planned.type === 'AAAA';
      const record = new cloudflare.DnsRecord(
        `${name}-${planned.key}`,
        {
          zoneId: args.zoneId,
          // Full names in Punycode: what the API returns, so reads do not drift.
          name: planned.name,
          type: planned.type,
          ttl: planned.ttl,
          ...(planned.type === 'CAA' ? { data: live.apply((r) => r.caa ?? {}) } : { content: live.apply((r) => r.content) }),
          ...(planned.priority !== undefined ? { priority: planned.priority } : {}),
          // The mail host must be reached directly: Cloudflare's proxy carries HTTP only, and a proxied
          // A record would publish Cloudflare's address instead of ours (breaking SMTP, SPF and the PTR match).
          ...(isAddress ? { proxied: false } : {}),
          comment: recordComment(stack, planned.key),
        },
        { parent: this },
      );
      if (planned.key === 'a') hostA = record;
    }
    if (!hostA) throw new Error('record builder produced no A record for the host');

    // PTR = host name, set only after the A record exists: AWS checks that the name resolves to the
    // address (docs.aws.amazon.com/AWSEC2/latest/UserGuide/elastic-ip-addresses-eip.html#Using_Elastic_Addressing_Reverse_DNS).
    // Depending on the A record also orders `pulumi destroy`: the PTR goes before the record and the address.
    const ptr = new aws.ec2.EipDomainName(
      `${name}-ptr`,
      { allocationId: args.eipAllocationId, domainName: hostA.name },
      { parent: this, dependsOn: [hostA] },
    );
    this.ptr = ptr.domainName;
    this.registerOutputs({ records: this.records, ptr: this.ptr });
  }
}
