/** The certificate and key the listeners serve, read from tls.certFile / tls.keyFile. */
import { readNamedFile } from '../config/named-file';
import { ConfigError, type RelayConfig } from '../config/schema';
import { checkKeyFits } from './server-context';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
}

/** Reads and checks the certificate and key: they must parse and belong together. */
export async function readTlsMaterial(config: RelayConfig): Promise<TlsMaterial | undefined> {
  if (!config.tls?.certFile || !config.tls.keyFile) return undefined;
  const cert = await readNamedFile('tls.certFile', config.tls.certFile);
  const key = await readNamedFile('tls.keyFile', config.tls.keyFile);
  try {
    checkKeyFits({ cert, key });
  } catch (error) {
    throw new ConfigError(`tls.keyFile: ${config.tls.keyFile} does not fit ${config.tls.certFile}: ${(error as Error).message}`);
  }
  return { cert, key };
}
