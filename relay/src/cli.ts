/**
 * The mxkit command line (a contract: docs/contracts.md "The command line"). Finds the command,
 * parses its options by the one contract (commands/contract.ts), runs it, and is the only place
 * that calls process.exit: 0 success, 1 a runtime failure (one line on stderr), 64 a usage error
 * (the problem and the command's usage on stderr).
 */
import { version } from '../../package.json';
import { ConfigError } from './config/schema';
import { EXIT_FAILURE, EXIT_USAGE, parseCommandLine, UsageError, type Command } from './commands/contract';
import { COMMANDS } from './commands/registry';

const USAGE = [
  'usage: mxkit <command> [options]     (mxkit <command> --help for its options)',
  ...COMMANDS.map((command) => `  ${command.synopsis}\n      ${command.summary}`),
  '  --version                      print the version',
].join('\n');

class CommandUsageError extends Error {
  constructor(
    readonly command: Command | undefined,
    message: string,
  ) {
    super(message);
  }
}

async function main(argv: readonly string[], print: (line: string) => void): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    print(USAGE);
    return 0;
  }
  if (name === '--version') {
    print(`mxkit ${version}`);
    return 0;
  }
  if (name === undefined) throw new CommandUsageError(undefined, 'no command given');
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) throw new CommandUsageError(undefined, `unknown command "${name}"`);
  try {
    const args = parseCommandLine(command, rest);
    if (args.values.help) {
      print(command.usage);
      return 0;
    }
    return await command.run(args, print);
  } catch (error) {
    if (error instanceof UsageError) throw new CommandUsageError(command, error.message);
    throw error;
  }
}

function report(error: unknown): number {
  if (error instanceof CommandUsageError) {
    const who = error.command ? `mxkit ${error.command.name}` : 'mxkit';
    process.stderr.write(`${who}: ${error.message}\n${error.command?.usage ?? USAGE}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof ConfigError) process.stderr.write(`mxkit: config error: ${error.message}\n`);
  else process.stderr.write(`mxkit: ${error instanceof Error ? error.message : String(error)}\n`);
  return EXIT_FAILURE;
}

main(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`)).then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error)),
);
