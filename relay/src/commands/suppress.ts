/**
 * `mxkit suppress list [--json] --config FILE` and `mxkit suppress remove ADDRESS --config FILE`:
 * the recipients submissions are refused for (hard bounces, complaints). `remove` asks the running
 * relay, the list's only writer, through spoolDir/control and waits briefly for it to apply the
 * request; without a running relay the request is applied at its next start.
 */
import { access } from 'node:fs/promises';
import { readConfigFile } from '../config/load';
import { spoolLayout, type SpoolLayout } from '../spool/layout';
import { normaliseAddress, readSuppressionFile } from '../suppression/list';
import { pendingRemovals, requestRemoval } from '../suppression/requests';
import { CommandFailure, flag, noMorePositionals, requiredString, UsageError, type Command, type ParsedCommandLine, type Print } from './contract';

const APPLY_WAIT_MS = 3000;

export const suppressCommand: Command = {
  name: 'suppress',
  synopsis: 'suppress list|remove [ADDRESS] --config FILE [--json]',
  summary: 'recipients refused after hard bounces and complaints',
  usage: `usage: mxkit suppress list --config FILE [--json]
       mxkit suppress remove ADDRESS --config FILE
  list       the suppressed recipients, why and since when
  remove     take an address off the list (the running relay applies it)`,
  options: { config: { type: 'string' }, json: { type: 'boolean' } },
  subcommands: ['list', 'remove'],
  run: runSuppressCommand,
};

async function runSuppressCommand(args: ParsedCommandLine, print: Print): Promise<number> {
  const [action, address] = args.positionals;
  noMorePositionals(args, action === 'list' ? 1 : 2);
  if (action === 'remove' && (address === undefined || !/^[^@\s]+@[^@\s]+$/.test(address))) throw new UsageError('suppress remove needs an ADDRESS');
  const layout = spoolLayout((await readConfigFile(requiredString(args, 'config'))).spoolDir);
  if (action === 'list') return list(layout, flag(args, 'json'), print);
  return remove(layout, address as string, print);
}

async function list(layout: SpoolLayout, json: boolean, print: Print): Promise<number> {
  const entries = [...(await readSuppressionFile(layout.suppression)).values()];
  const pending = new Set(await pendingRemovals(layout.control));
  if (json) {
    print(JSON.stringify(entries.map((entry) => ({ ...entry, ...(pending.has(entry.address) ? { removalPending: true } : {}) })), null, 2));
    return 0;
  }
  if (entries.length === 0) print('the suppression list is empty');
  for (const entry of entries) {
    const who = [entry.user ? `user ${entry.user}` : undefined, entry.queueId ? `message ${entry.queueId}` : undefined].filter(Boolean).join(', ');
    print(`${entry.address}  ${entry.reason}  since ${entry.at}${who ? `  (${who})` : ''}  ${entry.detail.replace(/\s+/g, ' ')}${pending.has(entry.address) ? '  [removal pending]' : ''}`);
  }
  if (entries.length > 0) print(`${entries.length} suppressed recipient${entries.length === 1 ? '' : 's'}`);
  return 0;
}

/** Asks the running relay, the list's only writer, and waits briefly for it to apply the request. */
async function remove(layout: SpoolLayout, address: string, print: Print): Promise<number> {
  const entries = await readSuppressionFile(layout.suppression);
  if (!entries.has(normaliseAddress(address))) throw new CommandFailure(`${address} is not on the suppression list`);
  const request = await requestRemoval(layout.control, address);
  const deadline = Date.now() + APPLY_WAIT_MS;
  while (Date.now() < deadline) {
    if (!(await access(request).then(() => true, () => false))) {
      print(`removed ${normaliseAddress(address)} from the suppression list`);
      return 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  print(`removal of ${normaliseAddress(address)} requested; the relay applies it when it runs`);
  return 0;
}
