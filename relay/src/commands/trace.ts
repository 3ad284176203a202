/**
 * `mxkit trace <queue-id|address> --config FILE [--json] [--limit N]`: every attempt of a message
 * (time, MX host and address, TLS, the remote reply) and how it ended, from the trace store the
 * running relay writes (spoolDir/trace, kept for delivery.traceRetention). An address shows the
 * latest messages from or to it. Exit 1 when the store has nothing for the query.
 */
import { readConfigFile } from '../config/load';
import { spoolLayout } from '../spool/layout';
import { QUEUE_ID_PATTERN } from '../spool/queue-id';
import { endings, formatTraceText } from '../trace/format';
import { readTrace } from '../trace/reader';
import { optionalOption, requireOption, UsageError, type ParsedArgs } from './args';

export const TRACE_USAGE = 'usage: mxkit trace <queue-id|address> --config FILE [--json] [--limit N]';

export async function runTraceCommand(args: ParsedArgs, print: (line: string) => void): Promise<number> {
  const [subject, ...extra] = args.positionals;
  if (subject === undefined || extra.length > 0) throw new UsageError(TRACE_USAGE);
  const isId = QUEUE_ID_PATTERN.test(subject);
  if (!isId && !/^[^@\s]+@[^@\s]+$/.test(subject)) throw new UsageError(`"${subject}" is neither a queue id nor an address\n${TRACE_USAGE}`);
  const limitText = optionalOption(args, 'limit') ?? '20';
  if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000) throw new UsageError('--limit must be a number from 1 to 1000');
  const config = await readConfigFile(requireOption(args, 'config'));
  const traces = await readTrace(spoolLayout(config.spoolDir).trace, isId ? { id: subject } : { address: subject, limit: Number(limitText) });
  if (args.options.has('json')) print(JSON.stringify(traces.map((trace) => ({ ...trace, endings: endings(trace) })), null, 2));
  else formatTraceText(traces).forEach(print);
  return traces.length > 0 ? 0 : 1;
}
