/**
 * Pushes config changes to the running host, the AWS-native way: an SSM command document that
 * reloads the relay (config-reload.ts) and a State Manager association that runs it on the
 * instance. Its `revision` parameter is the config's digest, so a changed user, route or key
 * updates the association, and State Manager runs an updated association at once
 * (docs.aws.amazon.com/systems-manager/latest/APIReference/API_UpdateAssociation.html,
 * ApplyOnlyAtCronInterval). `pulumi up` waits for the run to succeed, so a config the relay refuses
 * fails the deployment instead of passing silently. No SSH, and the instance is not replaced.
 * registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/ssm_document, …/ssm_association
 */
import { createHash } from 'node:crypto';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { reloadDocument } from './config-reload';

export interface PushedHost {
  instanceId: pulumi.Input<string>;
  /** Changes whenever the config or a secret this host's relay reads changes. */
  revision: pulumi.Input<string>;
}

export interface ConfigPushArgs {
  /** In host order: the first host's association keeps the plain name. */
  hosts: PushedHost[];
  /**
   * How long `pulumi up` waits for the reload to succeed. A new instance runs it once cloud-init is
   * done (the spool volume may take minutes to attach), hence the generous default.
   */
  waitSeconds?: number;
}

/** One revision from several digests (the host's own parameters and the shared ones), 32 hex characters. */
export function pushRevision(digests: string[]): string {
  return createHash('sha256').update(digests.join('/')).digest('hex').slice(0, 32);
}

export class ConfigPush extends pulumi.ComponentResource {
  readonly documentName: pulumi.Output<string>;
  readonly associationIds: pulumi.Output<string>[];

  constructor(name: string, args: ConfigPushArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mxkit:configPush:ConfigPush', name, {}, opts);
    const document = new aws.ssm.Document(
      `${name}-reload`,
      { documentType: 'Command', documentFormat: 'JSON', content: reloadDocument(), tags: { 'mxkit:stack': pulumi.getStack() } },
      { parent: this },
    );
    // One association per host, all at once: a SIGHUP stops no session, so there is nothing to stagger.
    const associations = args.hosts.map(
      (host, index) =>
        new aws.ssm.Association(
          index === 0 ? `${name}-reload` : `${name}-reload-host-${index + 1}`,
          {
            name: document.name,
            targets: [{ key: 'InstanceIds', values: [host.instanceId] }],
            parameters: { revision: host.revision },
            // Runs when created or updated (a new revision or a new instance), never on a schedule.
            applyOnlyAtCronInterval: false,
            complianceSeverity: 'HIGH',
            waitForSuccessTimeoutSeconds: args.waitSeconds ?? 1800,
          },
          { parent: this },
        ),
    );
    this.documentName = document.name;
    this.associationIds = associations.map((association) => association.associationId);
    this.registerOutputs({ documentName: this.documentName, associationIds: this.associationIds });
  }
}
