/**
 * `mxkit suppress list [--json] --config FILE` and `mxkit suppress remove ADDRESS --config FILE`:
 * the recipients submissions are refused for (hard bounces, complaints). `remove` asks the running
 * relay, the list's only writer, through spoolDir/control and waits briefly for it to apply the
 * request; without a running relay the request is applied at its next start.
 */
import { access } from 'node:fs/promises';
import { readConfigFile } from '../config/load';
import { spoolLayout } from '../spool/layout';
import { normaliseAddress, readSuppressionFile } from '../suppression/list';
import { pendingRemovals, requestRemoval } from '../suppression/requests';
import { requireOption, UsageError, type ParsedArgs } from './args';

export const SUPPRESS_USAGE = 'usage: mxkit suppress list|remove [ADDRESS] --config FILE [--json]';
const APPLY_WAIT_MS = 3000;

export async function runSuppressCommand(args: ParsedArgs, print: (line: string) => void): Promise<number> {
  const [action, address, ...extra] = args.positionals;
  if (extra.length > 0) throw new UsageError(SUPPRESS_USAGE);
  const config = await readConfigFile(requireOption(args, 'config'));
  const layout = spoolLayout(config.spoolDir);
  switch (action) {
    case 'list': {
      if (address !== undefined) throw new UsageError(SUPPRESS_USAGE);
      const entries = [...(await readSuppressionFile(layout.suppression)).values()];
      const pending = new Set(await pendingRemovals(layout.control));
      if (args.options.has('json')) {
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
    case 'remove': {
      if (address === undefined || !/^[^@\s]+@[^@\s]+$/.test(address)) throw new UsageError(`suppress remove needs an ADDRESS\n${SUPPRESS_USAGE}`);
      const entries = await readSuppressionFile(layout.suppression);
      if (!entries.has(normaliseAddress(address))) {
        process.stderr.write(`mxkit: ${address} is not on the suppression list\n`);
        return 1;
      }
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
    default:
      throw new UsageError(SUPPRESS_USAGE);
  }
}
