/**
 * How the relay gets onto the host: the esbuild bundle (dist/mxkit.js) in a private, encrypted S3
 * object, and the boot configuration that fetches it (checking its SHA-256) and runs it in a pinned
 * Node.js image. With `relayImage` the prebuilt image from relay/Dockerfile carries the bundle and
 * no bucket is made. S3 resources: registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/s3_bucket
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { NODE_IMAGE, renderUserData } from './user-data';
import type { RspamdBoot } from './rspamd-unit';

export interface RelayDeploymentArgs {
  /** Path of dist/mxkit.js on the machine running `pulumi up`. */
  bundlePath: string;
  /** A prebuilt image (relay/Dockerfile) to run instead of the bundle in the official Node.js image. */
  relayImage?: string;
  parameterPrefix: string;
  parameterNames: string[];
  /** Changes when the relay config or a secret changes. */
  secretsRevision: pulumi.Input<string>;
  /** Ephemeral stacks: the bucket is deleted even if something else wrote into it. */
  ephemeral: boolean;
  /** rspamd beside the relay (mxkit:spam flag|reject). */
  rspamd?: RspamdBoot;
}

export const BUNDLE_OBJECT_KEY = 'relay/mxkit.js';

/** The bundle, or a stand-in that fails loudly at boot if `npm run build` was not run first. */
export function loadBundle(bundlePath: string): { asset: pulumi.asset.Asset; sha256: string; missing: boolean } {
  if (existsSync(bundlePath)) {
    return { asset: new pulumi.asset.FileAsset(bundlePath), sha256: createHash('sha256').update(readFileSync(bundlePath)).digest('hex'), missing: false };
  }
  const text = `console.error('mxkit: ${bundlePath} did not exist when pulumi up ran; run npm run build, then pulumi up');\nprocess.exit(1);\n`;
  return { asset: new pulumi.asset.StringAsset(text), sha256: createHash('sha256').update(text).digest('hex'), missing: true };
}

export class RelayDeployment extends pulumi.ComponentResource {
  readonly userData: pulumi.Output<string>;
  /** ARNs of the S3 objects the host may read (empty with relayImage). */
  readonly objectArns: pulumi.Output<string>[];
  readonly bundleSha256?: string;

  constructor(name: string, args: RelayDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mxkit:deployment:RelayDeployment', name, {}, opts);
    const region = aws.getRegionOutput({}, { parent: this }).region;
    let bundle: pulumi.Output<{ s3Uri: string; sha256: string }> | undefined;
    this.objectArns = [];

    if (args.relayImage === undefined) {
      const loaded = loadBundle(args.bundlePath);
      if (loaded.missing) pulumi.log.warn(`${args.bundlePath} not found: run \`npm run build\` before \`pulumi up\`; deploying a placeholder that exits`, this);
      this.bundleSha256 = loaded.sha256;
      const bucket = new aws.s3.Bucket(
        `${name}-bundle`,
        { bucketPrefix: bucketPrefix(pulumi.getStack()), forceDestroy: args.ephemeral },
        { parent: this },
      );
      const publicAccess = new aws.s3.BucketPublicAccessBlock(
        `${name}-bundle`,
        { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
        { parent: this },
      );
      // ACLs off: only IAM policies grant access (docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html).
      const ownership = new aws.s3.BucketOwnershipControls(`${name}-bundle`, { bucket: bucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } }, { parent: this });
      const encryption = new aws.s3.BucketServerSideEncryptionConfiguration(
        `${name}-bundle`,
        { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }] },
        { parent: this },
      );
      const object = new aws.s3.BucketObjectv2(
        `${name}-bundle`,
        { bucket: bucket.id, key: BUNDLE_OBJECT_KEY, source: loaded.asset, contentType: 'text/javascript', serverSideEncryption: 'AES256' },
        { parent: this, dependsOn: [publicAccess, ownership, encryption] },
      );
      this.objectArns.push(pulumi.interpolate`${bucket.arn}/${object.key}`);
      bundle = pulumi.interpolate`s3://${bucket.bucket}/${object.key}`.apply((s3Uri) => ({ s3Uri, sha256: loaded.sha256 }));
    }

    this.userData = pulumi.all([region, args.secretsRevision, bundle]).apply(([regionName, revision, bundleRef]) =>
      renderUserData({
        region: regionName,
        parameterPrefix: args.parameterPrefix,
        parameterNames: args.parameterNames,
        bundle: bundleRef,
        image: args.relayImage ?? NODE_IMAGE,
        ...(args.rspamd ? { rspamd: args.rspamd } : {}),
        // A new bundle or a changed config/secret gives new user data, and the instance is replaced.
        revision: createHash('sha256').update(`${bundleRef?.sha256 ?? args.relayImage}\n${revision}`).digest('hex').slice(0, 32),
      }),
    );
    this.registerOutputs({ userData: this.userData, objectArns: this.objectArns, bundleSha256: this.bundleSha256 });
  }
}

/** S3 bucket_prefix is at most 37 characters, lower-case (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html). */
export function bucketPrefix(stack: string): string {
  const slug = stack.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  return `mxkit-${slug}`.slice(0, 36).replace(/-$/, '') + '-';
}
