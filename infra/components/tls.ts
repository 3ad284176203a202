/**
 * TLS for the relay. `self-signed`: Pulumi makes the key and a certificate for the mail host names
 * (fine for tests; real senders accept it for opportunistic STARTTLS, RFC 3207, but MTA-STS cannot
 * be enforced). `acme`/`acme-staging`: Pulumi makes only the ACME account key; the relay obtains and
 * renews certificates itself (HTTP-01, RFC 8555 §8.3), so nothing expires waiting for `pulumi up`.
 */
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import { LETS_ENCRYPT_CAA, type TlsMode } from '../builders/relay-config';

export interface TlsMaterialArgs {
  mode: TlsMode;
  /** Names the certificate (self-signed) covers: the mail host, and mta-sts.<domain> when MTA-STS is on. */
  dnsNames: string[];
}

export class TlsMaterial extends pulumi.ComponentResource {
  readonly mode: TlsMode;
  /** Self-signed only. */
  readonly certPem?: pulumi.Output<string>;
  /** Self-signed only; secret. */
  readonly keyPem?: pulumi.Output<string>;
  /** ACME only; secret. */
  readonly acmeAccountKeyPem?: pulumi.Output<string>;
  /** CAA `issue` values to publish for the mail host names. */
  readonly caaIssuers: string[];

  constructor(name: string, args: TlsMaterialArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mxkit:tls:TlsMaterial', name, {}, opts);
    this.mode = args.mode;
    if (args.mode === 'self-signed') {
      // RSA rather than ECDSA: some sending MTAs still negotiate RSA key exchange only.
      const key = new tls.PrivateKey(`${name}-key`, { algorithm: 'RSA', rsaBits: 2048 }, { parent: this });
      // tls.SelfSignedCert args: registry.terraform.io/providers/hashicorp/tls/latest/docs/resources/self_signed_cert
      const cert = new tls.SelfSignedCert(
        `${name}-cert`,
        {
          privateKeyPem: key.privateKeyPem,
          subject: { commonName: args.dnsNames[0], organization: 'mxkit' },
          dnsNames: args.dnsNames,
          validityPeriodHours: 24 * 365,
          // Any `pulumi up` in the last 30 days of validity replaces it before it expires.
          earlyRenewalHours: 24 * 30,
          allowedUses: ['key_encipherment', 'digital_signature', 'server_auth'],
        },
        { parent: this },
      );
      this.certPem = cert.certPem;
      this.keyPem = pulumi.secret(key.privateKeyPem);
      this.caaIssuers = [];
    } else {
      const account = new tls.PrivateKey(`${name}-acme-account`, { algorithm: 'RSA', rsaBits: 2048 }, { parent: this });
      this.acmeAccountKeyPem = pulumi.secret(account.privateKeyPem);
      // Let's Encrypt staging checks CAA for the same identifier as production.
      this.caaIssuers = [LETS_ENCRYPT_CAA];
    }
    this.registerOutputs({
      mode: this.mode,
      certPem: this.certPem,
      keyPem: this.keyPem,
      acmeAccountKeyPem: this.acmeAccountKeyPem,
      caaIssuers: this.caaIssuers,
    });
  }
}
