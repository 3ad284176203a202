/**
 * The IAM policy docs/deploy.md gives the deploying user: valid JSON, and for every resource type the
 * program makes (and every data source it reads), the calls that create, change and delete it.
 * A new resource type without a row here fails the test, so the guide's policy cannot fall behind.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BUNDLE_TYPES, CUSTOM_TYPES_ALWAYS, SES_TYPES } from './helpers/invariants';

type Statement = { Effect: string; Action: string[]; Resource: string | string[]; Condition?: unknown };

const guide = readFileSync(path.join(__dirname, '../../docs/deploy.md'), 'utf8');
const policyText = /## 3\.[\s\S]*?```json\n([\s\S]*?)```/.exec(guide)?.[1] ?? '';
const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);

/** What the AWS provider calls for each resource type (registry.terraform.io/providers/hashicorp/aws docs), and the ARN the program's names give. */
const NEEDS: Record<string, { actions: string[]; resource?: string }> = {
  'aws:ec2/instance:Instance': { actions: ['ec2:RunInstances', 'ec2:TerminateInstances', 'ec2:ModifyInstanceAttribute', 'ec2:DescribeInstances', 'ec2:CreateTags'] },
  'aws:ec2/eip:Eip': { actions: ['ec2:AllocateAddress', 'ec2:ReleaseAddress', 'ec2:DescribeAddresses'] },
  'aws:ec2/eipAssociation:EipAssociation': { actions: ['ec2:AssociateAddress', 'ec2:DisassociateAddress'] },
  'aws:ec2/eipDomainName:EipDomainName': { actions: ['ec2:ModifyAddressAttribute', 'ec2:ResetAddressAttribute', 'ec2:DescribeAddressesAttribute'] },
  'aws:ec2/securityGroup:SecurityGroup': { actions: ['ec2:CreateSecurityGroup', 'ec2:DeleteSecurityGroup', 'ec2:AuthorizeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupEgress', 'ec2:RevokeSecurityGroupIngress', 'ec2:RevokeSecurityGroupEgress'] },
  'aws:ebs/volume:Volume': { actions: ['ec2:CreateVolume', 'ec2:DeleteVolume', 'ec2:CreateSnapshot', 'ec2:DescribeVolumes'] },
  'aws:ec2/volumeAttachment:VolumeAttachment': { actions: ['ec2:AttachVolume', 'ec2:DetachVolume', 'ec2:StopInstances'] },
  'aws:iam/role:Role': { actions: ['iam:CreateRole', 'iam:DeleteRole', 'iam:GetRole', 'iam:ListInstanceProfilesForRole'], resource: 'arn:aws:iam::123456789012:role/mxkit-host-role-1a2b3c4' },
  'aws:iam/rolePolicy:RolePolicy': { actions: ['iam:PutRolePolicy', 'iam:GetRolePolicy', 'iam:DeleteRolePolicy'], resource: 'arn:aws:iam::123456789012:role/mxkit-host-role-1a2b3c4' },
  'aws:iam/instanceProfile:InstanceProfile': {
    actions: ['iam:CreateInstanceProfile', 'iam:DeleteInstanceProfile', 'iam:AddRoleToInstanceProfile', 'iam:RemoveRoleFromInstanceProfile', 'iam:GetInstanceProfile'],
    resource: 'arn:aws:iam::123456789012:instance-profile/mxkit-host-profile-1a2b3c4',
  },
  'aws:ssm/parameter:Parameter': { actions: ['ssm:PutParameter', 'ssm:GetParameter', 'ssm:DeleteParameter', 'ssm:AddTagsToResource', 'ssm:ListTagsForResource'], resource: 'arn:aws:ssm:eu-west-1:123456789012:parameter/mxkit/mxkit/prod/relay.json' },
  'aws:ssm/document:Document': {
    actions: ['ssm:CreateDocument', 'ssm:UpdateDocument', 'ssm:UpdateDocumentDefaultVersion', 'ssm:DeleteDocument', 'ssm:GetDocument', 'ssm:DescribeDocument', 'ssm:DescribeDocumentPermission'],
    resource: 'arn:aws:ssm:eu-west-1:123456789012:document/mxkit-config-reload-1a2b3c4',
  },
  'aws:ssm/association:Association': {
    actions: ['ssm:CreateAssociation', 'ssm:UpdateAssociation', 'ssm:DeleteAssociation', 'ssm:DescribeAssociation', 'ssm:ListAssociations'],
    resource: 'arn:aws:ssm:eu-west-1:123456789012:document/mxkit-config-reload-1a2b3c4',
  },
  'aws:s3/bucket:Bucket': { actions: ['s3:CreateBucket', 's3:DeleteBucket', 's3:ListBucket', 's3:GetBucketAcl', 's3:GetBucketVersioning'], resource: 'arn:aws:s3:::mxkit-prod-20261130' },
  'aws:s3/bucketObjectv2:BucketObjectv2': { actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'], resource: 'arn:aws:s3:::mxkit-prod-20261130/relay/mxkit-abc.js' },
  'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock': { actions: ['s3:PutBucketPublicAccessBlock', 's3:GetBucketPublicAccessBlock'], resource: 'arn:aws:s3:::mxkit-prod-20261130' },
  'aws:s3/bucketOwnershipControls:BucketOwnershipControls': { actions: ['s3:PutBucketOwnershipControls', 's3:GetBucketOwnershipControls'], resource: 'arn:aws:s3:::mxkit-prod-20261130' },
  'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration': { actions: ['s3:PutEncryptionConfiguration', 's3:GetEncryptionConfiguration'], resource: 'arn:aws:s3:::mxkit-prod-20261130' },
  'aws:iam/user:User': { actions: ['iam:CreateUser', 'iam:DeleteUser', 'iam:GetUser', 'iam:ListAccessKeys'], resource: 'arn:aws:iam::123456789012:user/mxkit/mxkit-ses-smtp-1a2b3c4' },
  'aws:iam/userPolicy:UserPolicy': { actions: ['iam:PutUserPolicy', 'iam:GetUserPolicy', 'iam:DeleteUserPolicy'], resource: 'arn:aws:iam::123456789012:user/mxkit/mxkit-ses-smtp-1a2b3c4' },
  'aws:iam/accessKey:AccessKey': { actions: ['iam:CreateAccessKey', 'iam:DeleteAccessKey', 'iam:ListAccessKeys'], resource: 'arn:aws:iam::123456789012:user/mxkit/mxkit-ses-smtp-1a2b3c4' },
  'aws:sesv2/emailIdentity:EmailIdentity': { actions: ['ses:CreateEmailIdentity', 'ses:DeleteEmailIdentity', 'ses:GetEmailIdentity', 'ses:PutEmailIdentityDkimSigningAttributes'], resource: 'arn:aws:ses:eu-west-1:123456789012:identity/example.com' },
  'aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes': { actions: ['ses:PutEmailIdentityMailFromAttributes', 'ses:GetEmailIdentity'], resource: 'arn:aws:ses:eu-west-1:123456789012:identity/example.com' },
  'mxkit:ses:SesOutbound': { actions: [] },
  // Not AWS: the Cloudflare token (step 4) and the tls provider (local) cover these.
  'cloudflare:index/dnsRecord:DnsRecord': { actions: [] },
  'tls:index/privateKey:PrivateKey': { actions: [] },
};
const DATA_SOURCES = ['ec2:DescribeImages', 'ec2:DescribeInstanceTypeOfferings', 'ec2:DescribeSubnets'];

describe('the deploying user\'s IAM policy in docs/deploy.md', () => {
  const policy = JSON.parse(policyText) as { Version: string; Statement: Statement[] };
  const allows = (action: string, resource = '*') =>
    policy.Statement.some((s) => s.Effect === 'Allow' && s.Action.some((a) => glob(a).test(action)) && [s.Resource].flat().some((r) => glob(r).test(resource)));

  test('is a policy document', () => {
    expect(policy.Version).toBe('2012-10-17');
    expect(policy.Statement.length).toBeGreaterThan(3);
  });

  test.each([...CUSTOM_TYPES_ALWAYS, ...BUNDLE_TYPES, ...SES_TYPES])('allows what %s needs, on the names the program gives', (type) => {
    const need = NEEDS[type];
    expect(need).toBeDefined();
    for (const action of need.actions) expect({ action, allowed: allows(action, need.resource) }).toEqual({ action, allowed: true });
  });

  test('allows the lookups the program makes (newest AMI, zones offering the type, the subnet)', () => {
    for (const action of DATA_SOURCES) expect({ action, allowed: allows(action) }).toEqual({ action, allowed: true });
  });

  test('scopes IAM, SSM and S3 to mxkit\'s own names, and passes the role to EC2 only', () => {
    for (const [action, resource] of [['iam:CreateRole', 'arn:aws:iam::1:role/admin'], ['iam:CreateAccessKey', 'arn:aws:iam::1:user/admin'], ['ssm:GetParameter', 'arn:aws:ssm:eu-west-1:1:parameter/other/secret'], ['s3:GetObject', 'arn:aws:s3:::payroll/x']]) {
      expect({ action, resource, allowed: allows(action, resource) }).toEqual({ action, resource, allowed: false });
    }
    const passRole = policy.Statement.find((s) => s.Action.includes('iam:PassRole'));
    expect(passRole?.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
  });
});
