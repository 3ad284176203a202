/**
 * The Pulumi program (Pulumi.yaml `main`): read the stack's config, stand up one MailServer, export
 * the outputs docs/contracts.md names (a contract): publicIp, instanceId, hostname, records,
 * submission, dkimSelector, relayConfig (host 1's), hosts (every host), and ses (with mxkit:outbound
 * ses). Nothing else lives here.
 */
import * as cloudflare from '@pulumi/cloudflare';
import { readStackConfig } from './config';
import { MailServer } from './mail-server';

const config = readStackConfig();

// An explicit provider so the token comes from the secret config value and nowhere else.
const cloudflareProvider = new cloudflare.Provider('cloudflare', { apiToken: config.secrets.cloudflareApiToken });

const server = new MailServer(
  'mxkit',
  {
    domain: config.domain,
    hostname: config.hostnamePattern,
    cloudflareZoneId: config.cloudflareZoneId,
    moreDomains: config.domains.slice(1),
    hosts: config.hostnames.length,
    instanceType: config.instanceType,
    architecture: config.architecture,
    ami: config.amiId,
    availabilityZone: config.availabilityZone,
    subnetId: config.subnetId,
    dkimSelectors: config.dkimSelectors,
    dmarcPolicy: config.dmarcPolicy,
    reportsTo: config.reportsTo,
    tls: config.tls,
    acmeEmail: config.acmeEmail,
    mtaSts: config.mtaSts,
    routes: config.routes,
    users: config.secrets.users,
    smarthost: config.smarthost,
    smarthostPassword: config.secrets.smarthostPassword,
    outbound: config.outbound,
    region: config.region,
    sesMailFromDomain: config.sesMailFromDomain,
    alertsWebhook: config.secrets.alertsWebhook,
    sshCidr: config.sshCidr,
    ephemeral: config.ephemeral,
    relayImage: config.relayImage,
    spoolVolumeSize: config.spoolVolumeSize,
    bundlePath: config.bundlePath,
    spam: config.spam,
    dnsbl: config.dnsbl,
    rspamdImage: config.rspamdImage,
  },
  { providers: { cloudflare: cloudflareProvider } },
);

export const publicIp = server.publicIp;
export const instanceId = server.instanceId;
export const hostname = server.hostname;
export const records = server.records;
export const submission = server.submission;
export const dkimSelector = server.dkimSelector;
export const relayConfig = server.relayConfig;
/** With mxkit:outbound ses: the SES identity's verification status and the sandbox reminder. */
export const ses = server.ses;
export const hosts = server.hosts;
