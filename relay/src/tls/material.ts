/** The certificate and key the listeners serve, read from tls.certFile / tls.keyFile. */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { readNamedFile } from '../config/named-file';
import { ConfigError, type RelayConfig } from '../config/schema';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
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
