/**
 * `mxkit suppress remove` runs beside the relay, which is the suppression journal's only writer:
 * the command drops a request in spoolDir/control (as `mxkit queue retry` does) and the relay
 * applies it within a second, or at its next start. File names are a hash of the address, so any
 * address is a safe name and a repeated request is one file.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { normaliseAddress } from './list';

const SUFFIX = '.unsuppress';

export function requestPath(controlDir: string, address: string): string {
  return join(controlDir, `${createHash('sha256').update(normaliseAddress(address)).digest('hex').slice(0, 32)}${SUFFIX}`);
}

export async function requestRemoval(controlDir: string, address: string): Promise<string> {
  await mkdir(controlDir, { recursive: true, mode: 0o700 });
  const path = requestPath(controlDir, address);
  await writeFile(path, normaliseAddress(address), { mode: 0o600 });
  return path;
}

async function read(controlDir: string, take: boolean): Promise<string[]> {
  const names = (await readdir(controlDir).catch(() => [] as string[])).filter((name) => name.endsWith(SUFFIX));
  const addresses: string[] = [];
  for (const name of names) {
    const path = join(controlDir, name);
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (take) await rm(path, { force: true });
    if (text !== undefined && text.length <= 1000) addresses.push(normaliseAddress(text));
  }
  return addresses;
}

/** Reads and deletes the pending removal requests (the relay). */
export const takeRemovalRequests = (controlDir: string) => read(controlDir, true);
/** Reads the pending removal requests without taking them (`mxkit suppress list`). */
export const pendingRemovals = (controlDir: string) => read(controlDir, false);
