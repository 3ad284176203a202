/**
 * `mxkit queue import DIR --config FILE`: moves the queue of another relay's spool (DIR, e.g. the
 * spool volume of a removed host, mounted read-write) into this relay's spool, delivery state and
 * all, and asks the running relay to deliver it now (spool/transfer.ts). Safe while the relay runs;
 * run it again after an interruption and it finishes the move.
 */
import { readConfigFile } from '../config/load';
import { Spool } from '../spool/spool';
import { moveQueue, TransferError } from '../spool/transfer';
import { CommandFailure, flag, noMorePositionals, requiredString, UsageError, type ParsedCommandLine, type Print } from './contract';

export async function runQueueImport(args: ParsedCommandLine, print: Print): Promise<number> {
  const [, from] = args.positionals;
  if (from === undefined) throw new UsageError('queue import needs DIR (the other spoolDir)');
  noMorePositionals(args, 2);
  if (flag(args, 'failed') || flag(args, 'json')) throw new UsageError('queue import takes only DIR and --config');
  const config = await readConfigFile(requiredString(args, 'config'));
  const target = new Spool(config.spoolDir);
  try {
    const { moved, finished } = await moveQueue(from, target);
    for (const id of moved) print(`moved ${id}`);
    for (const id of finished) print(`${id} was already here (an earlier import); removed from ${from}`);
    print(`${moved.length} message${moved.length === 1 ? '' : 's'} moved from ${from} into ${config.spoolDir}; delivery requested`);
    return 0;
  } catch (error) {
    if (error instanceof TransferError) throw new CommandFailure(`queue import: ${error.message}`);
    throw error;
  }
}
