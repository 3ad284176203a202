/**
 * The spool's file operations, and which of them run on the event loop.
 *
 * Opening a file to read it, closing, renaming, and reading or writing a few kilobytes of a file
 * in the page cache are each a few microseconds of kernel time. Handing one of them to libuv's
 * thread pool costs far more than doing it: a queue hand-off, a wake-up of a pool thread, an
 * eventfd write back and a promise, about 35 µs of CPU each on the bench machine (open, write,
 * close, rename, open, read, close, unlink: 330-380 µs through `fs/promises`, 47-78 µs with the
 * synchronous calls; docs/benchmarks.md, round 4). A message took about a dozen of them, so these
 * run synchronously.
 *
 * What can wait goes to the pool, so the event loop keeps serving other sessions: fsync (it waits
 * for the device); creating and removing files (both take ext4's journal, and wait behind another
 * session's fsync: tried on the event loop, `unlinkSync` took a tenth of the main thread); writes
 * of large pieces (a 10 MiB message streams in 64 KiB writes, which can block in the kernel's
 * dirty-page throttling); and reads of files that may not be in the page cache (`readStartInPool`).
 */
import { closeSync, fsync, open, openSync, readSync, renameSync, unlink, write, writeSync } from 'node:fs';
import { open as openHandle } from 'node:fs/promises';

/** Pieces at least this large are written through the thread pool (see above). */
export const LARGE_WRITE_BYTES = 16 * 1024;

export { closeSync, readSync, renameSync };

/** Creates (exclusively) and opens `path` through the thread pool: creating takes ext4's journal. */
export function createExclusive(path: string, mode: number): Promise<number> {
  return new Promise((resolve, reject) => open(path, 'wx+', mode, (error, fd) => (error ? reject(error) : resolve(fd))));
}

/** fsync through the thread pool: the one call here that waits for the device. */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
}

/** Writes all of `buffer[0, length)` at `position`: synchronously when small, else in the pool. */
export async function writeAllAt(fd: number, buffer: Buffer, length: number, position: number): Promise<void> {
  if (length < LARGE_WRITE_BYTES) {
    for (let offset = 0; offset < length; ) offset += writeSync(fd, buffer, offset, length - offset, position + offset);
    return;
  }
  for (let offset = 0; offset < length; ) {
    offset += await new Promise<number>((resolve, reject) => write(fd, buffer, offset, length - offset, position + offset, (error, written) => (error ? reject(error) : resolve(written))));
  }
}

/**
 * Unlinks `path` through the thread pool; false when it was already gone. Removing a file takes
 * ext4's journal, so it can wait behind another session's fsync: not on the event loop.
 */
export function removeIfPresent(path: string): Promise<boolean> {
  return new Promise((resolve, reject) =>
    unlink(path, (error) => {
      if (!error) resolve(true);
      else if (error.code === 'ENOENT') resolve(false);
      else reject(error);
    }),
  );
}

/** fsync of a file or folder by path. */
export async function fsyncPath(path: string): Promise<void> {
  const fd = openSync(path, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads up to `buffer.length` bytes from the start of `path` (one open, one read, one close). */
export function readStart(path: string, buffer: Buffer): number {
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, buffer, 0, buffer.length, 0);
  } finally {
    closeSync(fd);
  }
}

/** As `readStart`, through the thread pool: for a file that may not be in the page cache. */
export async function readStartInPool(path: string, buffer: Buffer): Promise<number> {
  const handle = await openHandle(path, 'r');
  try {
    return (await handle.read(buffer, 0, buffer.length, 0)).bytesRead;
  } finally {
    await handle.close();
  }
}
