/**
 * `mxkit trace <queue-id|address> --config FILE [--json] [--limit N]`: every attempt of a message
 * (time, MX host and address, TLS, the remote reply) and how it ended, from the trace store the
 * running relay writes (spoolDir/trace, kept for delivery.traceRetention). An address shows the
 * latest messages from or to it. Exit 1 when the store has nothing for the query.
 */
import { readConfigFile } from '../config/load';
import { spoolLayout } from '../spool/layout';
import { QUEUE_ID_PATTERN } from '../spool/queue-id';
import { flag, integerOption, noMorePositionals, requiredString, UsageError, type Command, type ParsedCommandLine, type Print } from './contract';

export const traceCommand: Command = {
  name: 'trace',
  synopsis: 'trace <queue-id|address> --config FILE [--json] [--limit N]',
  summary: 'every attempt of a message and how it ended',
  usage: `usage: mxkit trace <queue-id|address> --config FILE [--json] [--limit N]
  a queue id: that message's attempts (time, MX host, TLS, the remote reply) and endings
  an address: the latest messages from or to it (--limit, default 20)`,
  options: { config: { type: 'string' }, json: { type: 'boolean' }, limit: { type: 'string' } },
  run: runTraceCommand,
};

async function runTraceCommand(args: ParsedCommandLine, print: Print): Promise<number> {
  const [subject] = args.positionals;
  if (subject === undefined) throw new UsageError('needs a queue id or an address');
  noMorePositionals(args, 1);
  const isId = QUEUE_ID_PATTERN.test(subject);
  if (!isId && !/^[^@\s]+@[^@\s]+$/.test(subject)) throw new UsageError(`"${subject}" is neither a queue id nor an address`);
  const limit = integerOption(args, 'limit', 20, 1, 1000, 'a number');
  const config = await readConfigFile(requiredString(args, 'config'));
  // Loaded when run, not at every relay start (docs/architecture.md "What loads at start").
  const [{ endings, formatTraceText }, { readTrace }] = await Promise.all([import('../trace/format.js'), import('../trace/reader.js')]);
  const traces = await readTrace(spoolLayout(config.spoolDir).trace, isId ? { id: subject } : { address: subject, limit });
  if (flag(args, 'json')) print(JSON.stringify(traces.map((trace) => ({ ...trace, endings: endings(trace) })), null, 2));
  else formatTraceText(traces).forEach(print);
  return traces.length > 0 ? 0 : 1;
}
