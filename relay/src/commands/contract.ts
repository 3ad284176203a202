/**
 * The one command-line contract every `mxkit` command follows (docs/contracts.md "The command line"):
 * options parsed by node:util parseArgs in strict mode, so an unknown option (`check
 * --smtp-prot 2525`) is refused instead of ignored; `-h`/`--help` on every command prints its
 * usage to stdout and exits 0; a usage error prints one line naming the problem and the usage to
 * stderr and exits 64 (EX_USAGE, sysexits.h); any other failure prints one line to stderr and
 * exits 1. A command with subcommands given none prints its usage (exit 64).
 */
import { parseArgs } from 'node:util';

/** sysexits.h EX_USAGE: the command was used incorrectly. */
export const EXIT_USAGE = 64;
/** A runtime failure: bad config file, unreachable spool, nothing found. */
export const EXIT_FAILURE = 1;

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A runtime failure the user can act on (not in the queue, not on the list): one line, exit 1. */
export class CommandFailure extends Error {
  override name = 'CommandFailure';
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
}

export interface ParsedCommandLine {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** What a command prints to: stdout lines (a final newline is added per line). */
export type Print = (line: string) => void;

export interface Command {
  name: string;
  /** The command and its main options, for `mxkit --help`. */
  synopsis: string;
  /** What it does, in one line, for `mxkit --help`. */
  summary: string;
  /** The full usage, starting `usage: mxkit <name>`; printed by --help and with usage errors. */
  usage: string;
  options: Record<string, OptionSpec>;
  /** When set, the first positional must be one of these; without one the usage is printed. */
  subcommands?: readonly string[];
  run(args: ParsedCommandLine, print: Print): Promise<number>;
}

function usageMessage(error: Error & { code?: string }): string {
  const option = /'(-{1,2}[^' ]+)/.exec(error.message)?.[1] ?? '';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(error.message) ? `${option} takes no value` : `${option} needs a value`;
    default:
      return error.message;
  }
}

/** Parses argv for a command; `--help`/`-h` comes back as `values.help`. */
export function parseCommandLine(command: Pick<Command, 'options' | 'subcommands'>, argv: readonly string[]): ParsedCommandLine {
  let parsed: ParsedCommandLine;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(usageMessage(error as Error & { code?: string }));
  }
  if (parsed.values.help) return parsed;
  if (command.subcommands) {
    const [action] = parsed.positionals;
    if (action === undefined) throw new UsageError(`needs one of: ${command.subcommands.join(', ')}`);
    if (!command.subcommands.includes(action)) throw new UsageError(`unknown subcommand "${action}" (one of: ${command.subcommands.join(', ')})`);
  }
  return parsed;
}

export function optionalString(args: ParsedCommandLine, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function requiredString(args: ParsedCommandLine, name: string): string {
  const value = optionalString(args, name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function flag(args: ParsedCommandLine, name: string): boolean {
  return args.values[name] === true;
}

/** A whole number option within bounds, or the fallback when absent. */
export function integerOption(args: ParsedCommandLine, name: string, fallback: number, min: number, max: number, what: string): number {
  const text = optionalString(args, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`--${name} must be ${what} from ${min} to ${max}`);
  return Number(text);
}

/** Refuses positionals beyond the `allowed` count (after the subcommand, if any). */
export function noMorePositionals(args: ParsedCommandLine, allowed: number, what = 'argument'): void {
  const extra = args.positionals[allowed];
  if (extra !== undefined) throw new UsageError(`unexpected ${what} "${extra}"`);
}
