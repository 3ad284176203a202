/**
 * Secrets in SSM Parameter Store as SecureString (encrypted with the account's aws/ssm KMS key) under
 * /mxkit/<project>/<stack>/. The host reads them at boot into tmpfs; they never go into user data or plain outputs.
 * aws.ssm.Parameter args: registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/ssm_parameter
 */
import { createHash } from 'node:crypto';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface SecretStoreArgs {
  /** e.g. /mxkit/prod (no trailing slash). */
  prefix: string;
  /** Parameter name (also the file name under /run/mxkit on the host) → value. */
  values: Record<string, pulumi.Input<string>>;
  /** Parameters that may outgrow the standard tier's 4 KB (the relay config, with many users). */
  large?: string[];
  /**
   * Parameters the hosts re-read while they run (the MTA-STS policy): left out of `revision`, so a
   * change reaches the running hosts without replacing them.
   */
  refreshable?: string[];
}

export class SecretStore extends pulumi.ComponentResource {
  readonly prefix: string;
  readonly names: string[];
  readonly arns: pulumi.Output<string>[];
  /** Parameter versions; any change to any value changes this text. */
  readonly revision: pulumi.Output<string>;
  /**
   * A digest of every name and value but the refreshable ones (secret in the Pulumi state; a hash
   * reveals nothing of the keys it covers): changes exactly when something the relay reads at start
   * or on SIGHUP changes (config-push.ts).
   */
  readonly digest: pulumi.Output<string>;

  constructor(name: string, args: SecretStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mxkit:secrets:SecretStore', name, {}, opts);
    if (!/^\/[A-Za-z0-9_.\-/]+[^/]$/.test(args.prefix)) throw new Error(`SSM prefix "${args.prefix}" must look like /mxkit/<project>/<stack>`);
    this.prefix = args.prefix;
    this.names = Object.keys(args.values).sort();
    const parameters = this.names.map(
      (file) =>
        new aws.ssm.Parameter(
          `${name}-${file.replace(/[^A-Za-z0-9-]/g, '-')}`,
          {
            name: `${args.prefix}/${file}`,
            type: 'SecureString',
            value: pulumi.secret(args.values[file]),
            // Standard holds 4 KB, Advanced 8 KB (docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html).
            // Not Intelligent-Tiering: the Pulumi provider creates those as Standard (pulumi/pulumi-aws#5595).
            tier: args.large?.includes(file) ? 'Advanced' : 'Standard',
            description: 'mxkit relay secret; read by the relay host at boot',
          },
          { parent: this },
        ),
    );
    this.arns = parameters.map((p) => p.arn);
    const versioned = parameters.filter((_, index) => !args.refreshable?.includes(this.names[index]));
    this.revision = pulumi.all(versioned.map((p) => p.version)).apply((versions) => versions.join('.'));
    const pushed = this.names.filter((file) => !args.refreshable?.includes(file));
    this.digest = pulumi.all(pushed.map((file) => args.values[file])).apply((values) => {
      const hash = createHash('sha256');
      pushed.forEach((file, index) => hash.update(`${file}\0${values[index]}\0`));
      return hash.digest('hex').slice(0, 32);
    });
    this.registerOutputs({ prefix: this.prefix, names: this.names, arns: this.arns, revision: this.revision, digest: this.digest });
  }
}
