/**
 * The DKIM signing key (RFC 6376). RSA-2048: the size RFC 8301 §3.2 requires verifiers to accept,
 * and whose public key still fits one TXT record (split into 255-octet strings, see builders/txt.ts).
 * Losing it breaks verification of mail in flight, so non-ephemeral stacks protect it.
 */
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';

export interface DkimKeyArgs {
  selector: string;
  /** Protect the key from `pulumi destroy` / replacement (non-ephemeral stacks). */
  protect: boolean;
}

export class DkimKey extends pulumi.ComponentResource {
  readonly selector: string;
  /** Secret. */
  readonly privateKeyPem: pulumi.Output<string>;
  readonly publicKeyPem: pulumi.Output<string>;

  constructor(name: string, args: DkimKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mxkit:dkim:DkimKey', name, {}, opts);
    // tls.PrivateKey args: registry.terraform.io/providers/hashicorp/tls/latest/docs/resources/private_key
    const key = new tls.PrivateKey(`${name}-rsa`, { algorithm: 'RSA', rsaBits: 2048 }, { parent: this, protect: args.protect });
    this.selector = args.selector;
    this.privateKeyPem = pulumi.secret(key.privateKeyPem);
    this.publicKeyPem = key.publicKeyPem;
    this.registerOutputs({ selector: this.selector, privateKeyPem: this.privateKeyPem, publicKeyPem: this.publicKeyPem });
  }
}
