/**
 * Everything the relay reads before it starts, once: the config file and every file it names
 * (TLS certificate and key, DKIM keys, the ACME account key and stored certificate). Anything
 * wrong stops start-up with a ConfigError naming the field: fail closed, never run without a TLS
 * key or with a DKIM key that cannot sign. A SIGHUP reads the config and its DKIM keys again
 * (config-reloader.ts).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readConfigText } from './config/load';
import { readNamedFile } from './config/named-file';
import { configRevision } from './config/reload';
import { ConfigError, type RelayConfig } from './config/schema';
import { readTlsMaterial, type TlsMaterial } from './tls/material';
import { loadAcmeStart, type AcmeStart } from './tls/startup';

export interface LoadedRelay {
  config: RelayConfig;
  /** The file the config came from (a SIGHUP reads it again); absent when built in memory. */
  configPath?: string;
  /** configRevision() of the file's text. */
  revision?: string;
  tls: TlsMaterial | undefined;
  dkimKeys: Map<string, KeyObject>;
  /** Set with tls.acme: the account key and where the served certificate came from. */
  acme?: AcmeStart;
}

export async function readDkimKeys(config: RelayConfig): Promise<Map<string, KeyObject>> {
  const keys = new Map<string, KeyObject>();
  for (const [index, entry] of config.dkim.entries()) {
    const pem = await readNamedFile(`dkim[${index}].keyFile`, entry.keyFile);
    try {
      const key = createPrivateKey(pem);
      if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ed25519') throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
      keys.set(`${entry.domain}/${entry.selector}`, key);
    } catch (error) {
      throw new ConfigError(`dkim[${index}].keyFile: ${entry.keyFile} is not a usable private key: ${(error as Error).message}`);
    }
  }
  return keys;
}

export async function loadRelay(path: string): Promise<LoadedRelay> {
  const { config, text } = await readConfigText(path);
  const revision = configRevision(text);
  const files = await readTlsMaterial(config);
  const dkimKeys = await readDkimKeys(config);
  // With tls.acme: the stored ACME certificate, else the files, else a temporary self-signed one;
  // the relay orders a real one in the background (relay/src/tls, docs/tls.md).
  if (config.tls?.acme) {
    const acme = await loadAcmeStart(config, config.tls.acme, files);
    return { config, configPath: path, revision, tls: acme.material, dkimKeys, acme };
  }
  return { config, configPath: path, revision, tls: files, dkimKeys };
}
