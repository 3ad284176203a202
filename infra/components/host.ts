/**
 * The mail host: a static address (Elastic IP), a firewall that lets in only the mail ports, an EC2
 * instance on Amazon Linux 2023 and a separate encrypted EBS volume for the spool.
 * Arguments follow the AWS provider docs: registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/instance,
 * …/security_group, …/eip, …/ebs_volume, …/volume_attachment.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { SPOOL_DEVICE } from './user-data';

export interface MailHostArgs {
  instanceType: string;
  architecture: 'arm64' | 'x86_64';
  /** A pinned AMI; default: the newest Amazon Linux 2023 image at each `pulumi up`. */
  ami?: string;
  /** Default: the subnet's zone, else `defaultZone`, else the first zone (sorted) that offers the instance type. Fixed once the spool volume exists. */
  availabilityZone?: string;
  /** The zone to use when none is pinned (hosts after the first: a zone no other host is in). */
  defaultZone?: pulumi.Input<string>;
  /** A public subnet (route to an internet gateway); default: the region's default VPC. */
  subnetId?: string;
  /** SSH from this CIDR only; default none (use SSM Session Manager). */
  sshCidr?: string;
  userData: pulumi.Input<string>;
  /** The only SSM parameters and S3 objects the instance role may read. */
  parameterArns: pulumi.Input<string>[];
  objectArns: pulumi.Input<string>[];
  spoolVolumeSize: number;
  /** Protect the Elastic IP (non-ephemeral stacks): a new address has no sending reputation. */
  protectAddress: boolean;
  ephemeral: boolean;
  /**
   * When this host is removed from the deployment (mxkit:hosts lowered), keep its spool volume and
   * the mail queued on it instead of deleting the volume (docs/deploy.md "Removing a host").
   */
  keepSpoolOnRemoval?: boolean;
}

/** SMTP (25), submissions (465, RFC 8314), submission (587, RFC 6409), ACME HTTP-01 (80), MTA-STS policy (443). */
export const MAIL_PORTS = [25, 465, 587, 80, 443] as const;

export class MailHost extends pulumi.ComponentResource {
  readonly publicIp: pulumi.Output<string>;
  readonly allocationId: pulumi.Output<string>;
  readonly instanceId: pulumi.Output<string>;
  /** Where the spool volume (and so the host) is. */
  readonly availabilityZone: pulumi.Output<string>;

  constructor(name: string, args: MailHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mxkit:host:MailHost', name, {}, opts);
    const tags = { 'mxkit:stack': pulumi.getStack() };

    const eip = new aws.ec2.Eip(`${name}-ip`, { domain: 'vpc', tags: { ...tags, Name: `${name}-mail` } }, { parent: this, protect: args.protectAddress });

    const ingress: aws.types.input.ec2.SecurityGroupIngress[] = MAIL_PORTS.map((port) => ({
      description: `mail port ${port}`,
      protocol: 'tcp',
      fromPort: port,
      toPort: port,
      cidrBlocks: ['0.0.0.0/0'],
      ipv6CidrBlocks: ['::/0'],
    }));
    if (args.sshCidr) ingress.push({ description: 'SSH (mxkit:sshCidr)', protocol: 'tcp', fromPort: 22, toPort: 22, cidrBlocks: [args.sshCidr] });
    const subnet = args.subnetId !== undefined ? aws.ec2.getSubnetOutput({ id: args.subnetId }, { parent: this }) : undefined;
    const firewall = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        description: 'mxkit mail relay',
        // In the subnet's VPC; without a subnet, the default VPC (as the instance).
        ...(subnet !== undefined ? { vpcId: subnet.vpcId } : {}),
        ingress,
        // The provider removes AWS's default allow-all egress rule when a group is managed,
        // so outbound (SMTP to other MXs, HTTPS to S3/SSM/ACME, DNS) is declared here.
        egress: [{ description: 'outbound', protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'], ipv6CidrBlocks: ['::/0'] }],
        tags,
      },
      { parent: this },
    );

    const role = new aws.iam.Role(
      `${name}-role`,
      {
        assumeRolePolicy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        }),
        tags,
      },
      { parent: this },
    );
    new aws.iam.RolePolicy(`${name}-policy`, { role: role.name, policy: instancePolicy(args.parameterArns, args.objectArns) }, { parent: this });
    const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags }, { parent: this });

    // No ignoreChanges on the AMI: the engine would keep the old image even when the instance is
    // replaced for another reason, and the OS would never be patched. AL2023 is patched by moving to
    // a newer release image (docs.aws.amazon.com/linux/al2023/ug/deterministic-upgrades-usage.html):
    // a `pulumi up` after a release replaces the host the same safe way a new bundle does (the spool
    // volume and the address move over). Pin mxkit:amiId to choose when.
    const ami = args.ami !== undefined ? pulumi.output(args.ami) : latestAmazonLinux(args.architecture, this);
    const preferredZone =
      args.availabilityZone !== undefined
        ? pulumi.output(args.availabilityZone)
        : subnet !== undefined
          ? subnet.availabilityZone
          : args.defaultZone !== undefined
            ? pulumi.output(args.defaultZone)
            : aws.ec2
              .getInstanceTypeOfferingsOutput(
                { locationType: 'availability-zone', filters: [{ name: 'instance-type', values: [args.instanceType] }] },
                { parent: this },
              )
              .apply((offer) => {
                const zones = [...offer.locations].sort();
                if (zones.length === 0) throw new Error(`instance type ${args.instanceType} is not offered in this region`);
                return zones[0];
              });

    const spool = new aws.ebs.Volume(
      `${name}-spool`,
      {
        availabilityZone: preferredZone,
        size: args.spoolVolumeSize,
        type: 'gp3',
        encrypted: true,
        // Queued mail survives `pulumi destroy` of a real stack as a snapshot; test stacks leave nothing.
        finalSnapshot: !args.ephemeral,
        tags: { ...tags, Name: `${name}-spool` },
      },
      // The zone is a force-new property: a data source answering differently one day (a new zone
      // offering the type) must never replace the volume and its queue. It is chosen once; the
      // instance follows the volume, never the other way round. Real stacks also protect it, except
      // a volume kept when its host is removed (Pulumi lets go of it instead of deleting it).
      {
        parent: this,
        ignoreChanges: ['availabilityZone'],
        ...(args.keepSpoolOnRemoval ? { retainOnDelete: true } : { protect: !args.ephemeral }),
      },
    );
    const zone = pulumi.all([spool.availabilityZone, preferredZone]).apply(([volumeZone, wanted]) => {
      // The default zone is only a first choice: a different answer later is no reason to say anything.
      if (volumeZone === wanted || (args.availabilityZone === undefined && subnet === undefined)) return volumeZone;
      const moving = `a volume cannot change zones, so the host stays in ${volumeZone} with its queue (to move: snapshot the volume, or drain the queue and recreate the stack)`;
      if (subnet !== undefined) throw new Error(`mxkit:subnetId ${args.subnetId} is in ${wanted}, but the spool volume is in ${volumeZone}: ${moving}; pick a subnet in ${volumeZone}`);
      void pulumi.log.warn(`the spool volume is in ${volumeZone}, not ${wanted}: ${moving}`, this);
      return volumeZone;
    });

    const instance = new aws.ec2.Instance(
      `${name}-vm`,
      {
        ami,
        instanceType: args.instanceType,
        availabilityZone: zone,
        ...(args.subnetId !== undefined ? { subnetId: args.subnetId } : {}),
        vpcSecurityGroupIds: [firewall.id],
        iamInstanceProfile: profile.name,
        // IMDSv2 only (no unauthenticated metadata reads); hop limit 2 so a container on Docker's
        // bridge network, one hop further than the host, can still obtain a token.
        metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 2 },
        rootBlockDevice: { volumeType: 'gp3', volumeSize: 16, encrypted: true, deleteOnTermination: true },
        userData: args.userData,
        // cloud-init runs user data once per instance: a new bundle or image needs a new instance. Users,
        // routes, limits and keys are not in it: they reach the running relay by SSM (config-push.ts).
        userDataReplaceOnChange: true,
        tags: { ...tags, Name: `${name}-mail` },
      },
      { parent: this },
    );

    new aws.ec2.VolumeAttachment(
      `${name}-spool`,
      {
        deviceName: SPOOL_DEVICE,
        volumeId: spool.id,
        instanceId: instance.id,
        // On replacement, stop the old instance (the relay drains) before the volume moves over.
        stopInstanceBeforeDetaching: true,
      },
      { parent: this, deleteBeforeReplace: true },
    );
    // allowReassociation: on instance replacement the new association takes the address over.
    new aws.ec2.EipAssociation(`${name}-ip`, { allocationId: eip.allocationId, instanceId: instance.id, allowReassociation: true }, { parent: this });

    this.publicIp = eip.publicIp;
    this.allocationId = eip.allocationId;
    this.instanceId = instance.id;
    this.availabilityZone = spool.availabilityZone;
    this.registerOutputs({ publicIp: this.publicIp, allocationId: this.allocationId, instanceId: this.instanceId, availabilityZone: this.availabilityZone });
  }
}

/** Amazon Linux 2023 standard AMI names: al2023-ami-2023.<version>-kernel-<k>-<arch> (docs.aws.amazon.com/linux/al2023/ug/ec2.html); the -minimal- images lack the AWS CLI. */
function latestAmazonLinux(architecture: 'arm64' | 'x86_64', parent: pulumi.Resource): pulumi.Output<string> {
  return aws.ec2.getAmiOutput(
    {
      owners: ['amazon'],
      mostRecent: true,
      filters: [
        { name: 'name', values: [`al2023-ami-2023.*-kernel-*-${architecture}`] },
        { name: 'architecture', values: [architecture] },
        { name: 'virtualization-type', values: ['hvm'] },
      ],
    },
    { parent },
  ).id;
}

/**
 * Least privilege: read this stack's parameters and bundle object, nothing else. SecureStrings under
 * the AWS-managed aws/ssm key need no kms:Decrypt grant (its key policy allows use via SSM).
 * The Session Manager actions (docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-create-iam-instance-profile.html)
 * give shell access without opening port 22; they grant no read access to data.
 */
export function instancePolicy(parameterArns: pulumi.Input<string>[], objectArns: pulumi.Input<string>[]): pulumi.Output<string> {
  return pulumi.all([pulumi.all(parameterArns), pulumi.all(objectArns)]).apply(([parameters, objects]) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'ReadOwnParameters', Effect: 'Allow', Action: ['ssm:GetParameter', 'ssm:GetParameters'], Resource: parameters },
        ...(objects.length > 0 ? [{ Sid: 'ReadOwnBundle', Effect: 'Allow', Action: ['s3:GetObject'], Resource: objects }] : []),
        {
          // State Manager runs the config push (config-push.ts) through the agent: it lists the
          // instance's associations, reads their documents and reports status; no data access.
          Sid: 'StateManager',
          Effect: 'Allow',
          Action: [
            'ssm:DescribeAssociation',
            'ssm:ListAssociations',
            'ssm:ListInstanceAssociations',
            'ssm:GetDocument',
            'ssm:DescribeDocument',
            'ssm:UpdateAssociationStatus',
            'ssm:UpdateInstanceAssociationStatus',
            'ec2messages:AcknowledgeMessage',
            'ec2messages:DeleteMessage',
            'ec2messages:FailMessage',
            'ec2messages:GetEndpoint',
            'ec2messages:GetMessages',
            'ec2messages:SendReply',
          ],
          Resource: '*',
        },
        {
          Sid: 'SessionManager',
          Effect: 'Allow',
          Action: [
            'ssm:UpdateInstanceInformation',
            'ssmmessages:CreateControlChannel',
            'ssmmessages:CreateDataChannel',
            'ssmmessages:OpenControlChannel',
            'ssmmessages:OpenDataChannel',
          ],
          Resource: '*',
        },
      ],
    }),
  );
}
