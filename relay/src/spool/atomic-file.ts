/** Small files replaced whole: written to a temp file, flushed, renamed over the old one. */
import { rename, writeFile } from 'node:fs/promises';

export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temp, data, { mode: 0o600, flush: true });
  await rename(temp, path);
}
