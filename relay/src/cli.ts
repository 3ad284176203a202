/**
 * The mxkit command line (a contract, see ../shared/design.md "The command line"). The only place
 * that calls process.exit. Errors print one line to stderr and exit non-zero.
 */
import { ConfigError } from './config/schema';
import { parseArgs, UsageError } from './commands/args';
import { runHashPasswordCommand } from './commands/hash-password';
import { runQueueCommand } from './commands/queue';
import { runRelayCommand } from './commands/relay-command';
import { runReportsCommand } from './commands/reports';
import { runSuppressCommand } from './commands/suppress';
import { runTraceCommand } from './commands/trace';
import { runLocalCommand } from './local/local-command';
import { CHECK_USAGE, runCheckCommand } from './commands/check';
import { runRecordsCommand } from '../../infra/builders/records-command';

const USAGE = `usage: mxkit <command>
  relay --config FILE            run the relay
  local [--state DIR] [--ports auto] [--rspamd off]
                                 the whole mail system on loopback: DNS, relay, a receiving inbox
  hash-password                  read a password (hidden on a terminal), print the hash for users[].passwordHash
  queue list|retry|remove [ID] --config FILE [--json]
                                 inspect the spool, retry now, remove (no bounce)
  queue list --failed --config FILE [--json]
                                 messages that ended without delivery and without a DSN
  queue import DIR --config FILE move another spool's queue (a removed host's) into this one
  records --config FILE [--ip IP] [--format zone|json]
                                 the DNS records the deployment publishes
  trace <queue-id|address> --config FILE [--json] [--limit N]
                                 every attempt of a message and how it ended
  suppress list|remove [ADDRESS] --config FILE [--json]
                                 recipients refused after hard bounces and complaints
  reports --config FILE [--days N] [--json]
                                 received DMARC and TLS reports and complaints
  ${CHECK_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const print = (line: string) => process.stdout.write(`${line}\n`);
  switch (command) {
    case 'relay':
      return runRelayCommand(parseArgs(rest));
    case 'local':
      return runLocalCommand(parseArgs(rest), print);
    case 'hash-password':
      return runHashPasswordCommand(print);
    case 'queue':
      return runQueueCommand(parseArgs(rest, ['json', 'failed']), print);
    case 'trace':
      return runTraceCommand(parseArgs(rest, ['json']), print);
    case 'suppress':
      return runSuppressCommand(parseArgs(rest, ['json']), print);
    case 'reports':
      return runReportsCommand(parseArgs(rest, ['json']), print);
    case 'records':
      return runRecordsCommand(rest, print);
    case 'check':
      return runCheckCommand(rest, print);
    case undefined:
    case 'help':
    case '--help':
      print(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) process.stderr.write(`mxkit: config error: ${error.message}\n`);
    else if (error instanceof UsageError) process.stderr.write(`mxkit: ${error.message}\n`);
    else process.stderr.write(`mxkit: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof UsageError ? 64 : 1);
  },
);
