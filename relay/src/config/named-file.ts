/**
 * The one way to read a file the config names (`--config` itself, tls.certFile, dkim[i].keyFile,
 * tls.acme.accountKeyFile, delivery.smarthost.passwordFile, forwarding.srsSecretFile, ...; the MTA-STS
 * policy file, read with its version to follow changes, has its own reader in tls/): a failure is a ConfigError that
 * names the field, the path and the reason (ENOENT, EACCES) -- never the file's content, which is
 * often a secret. Start-up fails closed on it.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from './schema';

export async function readNamedFile(field: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new ConfigError(`${field}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/** A secret kept in a file of its own (a password): its first line, which must not be empty. */
export async function readNamedSecretLine(field: string, path: string): Promise<string> {
  const line = (await readNamedFile(field, path)).toString('utf8').split(/\r?\n/)[0];
  if (line === '') throw new ConfigError(`${field}: ${path} is empty`);
  return line;
}
