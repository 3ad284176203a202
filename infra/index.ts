/**
 * The Pulumi program (Pulumi.yaml `main`): read the stack's config, stand up one MailServer, export
 * the outputs docs/contracts.md names (a contract): publicIp, instanceId, hostname, records,
 * submission, dkimSelector, relayConfig (host 1's), hosts (every host), and ses (with mxkit:outbound
 * ses). Nothing else lives here.
 */
import * as cloudflare from '@pulumi/cloudflare';
import { readStackConfig } from './config';
import { MailServer, mailServerArgsOf } from './mail-server';

const config = readStackConfig();

// An explicit provider so the token comes from the secret config value and nowhere else.
const cloudflareProvider = new cloudflare.Provider('cloudflare', { apiToken: config.secrets.cloudflareApiToken });

const server = new MailServer('mxkit', mailServerArgsOf(config), { providers: { cloudflare: cloudflareProvider } });

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
