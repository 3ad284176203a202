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

/** What differs between the hosts of a deployment: the parameters each reads. */
export interface HostParameters {
  parameterPrefix: string;
  parameterNames: string[];
  /** The deployment's parameters every host reads (and which of them it re-reads while running). */
  shared?: { prefix: string; names: string[]; refresh: string[] };
}

export interface RelayDeploymentArgs {
  /** Path of dist/mxkit.js on the machine running `pulumi up`. */
  bundlePath: string;
  /** A prebuilt image (relay/Dockerfile), pinned by digest, to run instead of the bundle in the official Node.js image. */
  relayImage?: string;
  /** Ephemeral stacks: the bucket is deleted even if something else wrote into it. */
  ephemeral: boolean;
  /** rspamd beside the relay (mxkit:spam flag|reject). */
  rspamd?: RspamdBoot;
}

/** Where bundles live in the stack's bucket; the instance role may read this folder only. */
export const BUNDLE_FOLDER = 'relay';

/**
 * One object per bundle, named by its content: a new bundle is a new object, created before the
 * instance that needs it and the old one deleted only after the old instance is gone. An `up` that
 * fails half-way therefore never takes away the bundle a running host restarts from.
 */
export function bundleObjectKey(sha256: string): string {
  return `${BUNDLE_FOLDER}/mxkit-${sha256}.js`;
}

export class MissingBundleError extends pulumi.RunError {
  override name = 'MissingBundleError';
}

/**
 * The bundle. Missing, it stops `pulumi up` before anything changes: a placeholder would change
 * the user data and replace a healthy host with one that cannot start. A preview only warns (and
 * shows a stand-in), so `pulumi preview` works on a fresh checkout.
 */
export function loadBundle(bundlePath: string, resource?: pulumi.Resource): { asset: pulumi.asset.Asset; sha256: string } {
  if (existsSync(bundlePath)) {
    return { asset: new pulumi.asset.FileAsset(bundlePath), sha256: createHash('sha256').update(readFileSync(bundlePath)).digest('hex') };
  }
  const problem = `the relay bundle ${bundlePath} does not exist (mxkit:bundlePath): run \`npm run build\` first`;
  if (!pulumi.runtime.isDryRun()) throw new MissingBundleError(`${problem}; nothing was changed`);
  void pulumi.log.warn(`${problem}; this preview shows a stand-in, and \`pulumi up\` will refuse to run without the bundle`, resource);
  const text = '// mxkit preview stand-in: the bundle was not built\n';
  return { asset: new pulumi.asset.StringAsset(text), sha256: createHash('sha256').update(text).digest('hex') };
}

export class RelayDeployment extends pulumi.ComponentResource {
  /** ARNs (patterns) of the S3 objects the host may read (empty with relayImage). */
  readonly objectArns: pulumi.Output<string>[];
  readonly bundleSha256?: string;
  private readonly region: pulumi.Output<string>;
  private readonly bundle: pulumi.Output<{ s3Uri: string; sha256: string }> | undefined;
  private readonly boot: Pick<RelayDeploymentArgs, 'relayImage' | 'rspamd'>;

  constructor(name: string, args: RelayDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mxkit:deployment:RelayDeployment', name, {}, opts);
    const region = aws.getRegionOutput({}, { parent: this }).region;
    let bundle: pulumi.Output<{ s3Uri: string; sha256: string }> | undefined;
    this.objectArns = [];

    if (args.relayImage === undefined) {
      const loaded = loadBundle(args.bundlePath, this);
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
        { bucket: bucket.id, key: bundleObjectKey(loaded.sha256), source: loaded.asset, contentType: 'text/javascript', serverSideEncryption: 'AES256' },
        { parent: this, dependsOn: [publicAccess, ownership, encryption] },
      );
      // The folder, not the one object: the policy then stays valid for the old host while a new
      // bundle is rolled out, and the bucket holds nothing but this stack's bundles.
      this.objectArns.push(pulumi.interpolate`${bucket.arn}/${BUNDLE_FOLDER}/*`);
      bundle = pulumi.interpolate`s3://${bucket.bucket}/${object.key}`.apply((s3Uri) => ({ s3Uri, sha256: loaded.sha256 }));
    }

    this.region = region;
    this.bundle = bundle;
    this.boot = { relayImage: args.relayImage, rspamd: args.rspamd };
    this.registerOutputs({ objectArns: this.objectArns, bundleSha256: this.bundleSha256 });
  }

  /** The boot configuration of one host: the same bundle and image, the host's own parameters. */
  userDataFor(host: HostParameters): pulumi.Output<string> {
    return pulumi.all([this.region, this.bundle]).apply(([regionName, bundleRef]) =>
      renderUserData({
        region: regionName,
        parameterPrefix: host.parameterPrefix,
        parameterNames: host.parameterNames,
        ...(host.shared ? { shared: host.shared } : {}),
        bundle: bundleRef,
        image: this.boot.relayImage ?? NODE_IMAGE,
        ...(this.boot.rspamd ? { rspamd: this.boot.rspamd } : {}),
        // Only what the host runs is in the user data: a new bundle or image replaces the instance.
        // Config and secrets are not: they reach the running relay through config-push.ts.
        revision: createHash('sha256').update(`${bundleRef?.sha256 ?? this.boot.relayImage}`).digest('hex').slice(0, 32),
      }),
    );
  }
}

/** S3 bucket_prefix is at most 37 characters, lower-case (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html). */
export function bucketPrefix(stack: string): string {
  const slug = stack.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  return `mxkit-${slug}`.slice(0, 36).replace(/-$/, '') + '-';
}
