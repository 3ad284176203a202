/**
 * What each host of a deployment reads, and its relay config. Pure: the Pulumi program stores the
 * files as SSM parameters, the hosts copy them to /run/mxkit at boot.
 *
 * Files are either the deployment's (the same for every host: DKIM keys, the ACME account key, the
 * smarthost password, the SRS key, the MTA-STS policy) or a host's own (its relay config, its
 * self-signed certificate). A host's config depends only on its own number and on what every host
 * shares, never on how many hosts there are: adding host 2 changes nothing host 1 reads except the
 * MTA-STS policy, which the hosts re-read while they run (docs/deploy.md "Several hosts").
 */
import type { RelayConfigInput } from '../../relay/src/config/schema';
import { buildRelayConfig, dkimKeyFileName, HOST_FILES, HOST_SECRETS_DIR, type RelayConfigBuildInput } from './relay-config';

/** The deployment's files: one SSM parameter each, read by every host. */
export const SHARED_FILES = {
  acmeAccountKey: 'acme-account.key',
  smarthostPassword: 'smarthost.password',
  srsSecret: 'srs.secret',
  mtaStsPolicy: 'mta-sts.txt',
} as const;

/** A host's own files. */
export const HOST_OWN_FILES = { relayConfig: 'relay.json', tlsCert: 'tls.crt', tlsKey: 'tls.key' } as const;

export interface DkimFile {
  domain: string;
  selector: string;
  /** The file (and SSM parameter) name under /run/mxkit. */
  file: string;
}

/** Every domain's keys, in selector order: the first of each domain signs. */
export function dkimFiles(domains: readonly string[], selectors: readonly string[]): DkimFile[] {
  return domains.flatMap((domain) => selectors.map((selector) => ({ domain, selector, file: dkimKeyFileName(domain, selector) })));
}

/** Everything of a host's relay config that is the same on every host. */
export type DeploymentRelayInput = Omit<RelayConfigBuildInput, 'hostname' | 'files' | 'dkimSelector' | 'dkim' | 'certificateNames' | 'mtaStsPolicyFile' | 'srsSecretFile'> & {
  /** Host 1's name first; host 1's name is also the submission name. */
  hostnames: string[];
  dkimSelectors: string[];
};

/** The relay config of host `index` (0 = host 1). */
export function hostRelayConfig(input: DeploymentRelayInput, index: number): RelayConfigInput {
  const { hostnames, dkimSelectors, ...common } = input;
  const hostname = hostnames[index];
  if (hostname === undefined) throw new Error(`there is no host ${index + 1}`);
  return buildRelayConfig({
    ...common,
    hostname,
    files: HOST_FILES,
    dkim: dkimFiles(input.domains, dkimSelectors).map(({ domain, selector, file }) => ({ domain, selector, keyFile: `${HOST_SECRETS_DIR}/${file}` })),
    // Clients use host 1's name for submission, and it resolves to every host.
    certificateNames: index === 0 ? [] : [hostnames[0]],
    ...(input.mtaSts ? { mtaStsPolicyFile: `${HOST_SECRETS_DIR}/${SHARED_FILES.mtaStsPolicy}` } : {}),
    srsSecretFile: `${HOST_SECRETS_DIR}/${SHARED_FILES.srsSecret}`,
  });
}
