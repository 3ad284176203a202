/**
 * Moving a queue from one spool to another: how the mail a removed host still held reaches a host
 * that stays (docs/deploy.md "Removing a host"). Each message moves with its delivery state, so
 * recipients already delivered are not sent to again:
 *
 *   1. the state is written into the target (atomically, state.ts),
 *   2. the message is written into the target as intake writes one (tmp, fsync, rename, fsync),
 *   3. the target's relay is asked to try it now (a retry request; a relay not running picks it
 *      up when it starts),
 *   4. only then is it removed from the source.
 *
 * A crash between 2 and 4 leaves the message in both: the next run finds it in the target and only
 * finishes step 4. At worst a recipient delivered by the target in between is delivered twice,
 * never lost (at-least-once, like the rest of the spool).
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { QUEUE_ID_PATTERN } from './queue-id';
import { Spool } from './spool';

export interface TransferResult {
  /** Moved into the target and removed from the source. */
  moved: string[];
  /** Already in the target (an earlier, interrupted run): only removed from the source. */
  finished: string[];
}

export class TransferError extends Error {
  override name = 'TransferError';
}

/** Every queued message of the spool at `sourceDir` moves into `target`. */
export async function moveQueue(sourceDir: string, target: Spool): Promise<TransferResult> {
  const source = new Spool(sourceDir);
  if (source.root === resolve(target.root)) throw new TransferError(`${sourceDir} is this relay's own spool`);
  const isFolder = (path: string) => stat(path).then((found) => found.isDirectory(), () => false);
  if (!(await isFolder(source.queueDir))) throw new TransferError(`${sourceDir} has no queue/ folder: not a relay's spoolDir (on a mounted volume it is <mount>/spool)`);
  // Made by the relay's first start; creating it here could race a relay starting now.
  if (!(await isFolder(target.queueDir))) throw new TransferError(`${target.root} has no queue yet; start the relay once, then import`);
  const result: TransferResult = { moved: [], finished: [] };
  for (const message of await source.list()) {
    const id = message.envelope.id;
    // The file name is the id the state and retry requests use; a file that disagrees is not ours.
    if (!QUEUE_ID_PATTERN.test(id) || source.pathOf(id) !== message.path) throw new TransferError(`${message.path} does not hold message ${id}`);
    if (await target.has(id)) {
      await source.remove(id);
      result.finished.push(id);
      continue;
    }
    const state = await source.state.read(id);
    if (state) await target.state.write(state);
    const draft = await target.begin(id);
    try {
      await draft.write(await readFile(message.path));
      await draft.commit();
    } catch (error) {
      await draft.abort();
      throw error;
    }
    await target.requestRetry(id);
    await source.remove(id);
    result.moved.push(id);
  }
  return result;
}
