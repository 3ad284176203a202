/**
 * Reads the relay config file and every file it names, once, at start. Anything wrong stops
 * start-up with a ConfigError naming the field: fail closed, never run without a TLS key or with
 * a DKIM key that cannot sign.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { ConfigError, parseRelayConfig, type RelayConfig } from './schema';
import { loadAcmeStart, type AcmeStart } from '../tls/startup';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
}

export interface LoadedRelay {
  config: RelayConfig;
  tls: TlsMaterial | undefined;
  dkimKeys: Map<string, KeyObject>;
  /** Set with tls.acme: the account key and where the served certificate came from. */
  acme?: AcmeStart;
}

export async function readConfigFile(path: string): Promise<RelayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`--config: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    // Only the position: newer Node versions quote the input, which may hold password hashes.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new ConfigError(`--config: ${path} is not valid JSON${position === undefined ? '' : ` (at character ${position})`}`);
  }
  return parseRelayConfig(document);
}

async function readNamedFile(field: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new ConfigError(`${field}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/** Reads and checks the certificate and key: they must parse and belong together. */
export async function readTlsMaterial(config: RelayConfig): Promise<TlsMaterial | undefined> {
  if (!config.tls?.certFile || !config.tls.keyFile) return undefined;
  const cert = await readNamedFile('tls.certFile', config.tls.certFile);
  const key = await readNamedFile('tls.keyFile', config.tls.keyFile);
  let matches: boolean;
  try {
    createSecureContext({ cert, key });
    matches = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch (error) {
    throw new ConfigError(`tls.keyFile: ${config.tls.keyFile} does not fit ${config.tls.certFile}: ${(error as Error).message}`);
  }
  if (!matches) throw new ConfigError(`tls.keyFile: ${config.tls.keyFile} does not fit ${config.tls.certFile}: the key is not the certificate's`);
  return { cert, key };
}

async function readDkimKeys(config: RelayConfig): Promise<Map<string, KeyObject>> {
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
  const config = await readConfigFile(path);
  const files = await readTlsMaterial(config);
  const dkimKeys = await readDkimKeys(config);
  // With tls.acme: the stored ACME certificate, else the files, else a temporary self-signed one;
  // the relay orders a real one in the background (relay/src/tls, docs/tls.md).
  if (config.tls?.acme) {
    const acme = await loadAcmeStart(config, config.tls.acme, files);
    return { config, tls: acme.material, dkimKeys, acme };
  }
  return { config, tls: files, dkimKeys };
}
