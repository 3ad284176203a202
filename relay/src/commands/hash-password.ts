/**
 * `mxkit hash-password`: reads one password, prints its scrypt hash. On a terminal it prompts and
 * reads one line with echo off (Enter ends it; no Ctrl-D needed); piped, it takes the first line.
 */
import type { Readable, Writable } from 'node:stream';
import { hashPassword } from '../intake/password';
import { noMorePositionals, UsageError, type Command, type ParsedCommandLine, type Print } from './contract';

/** Far more than any password; bounds what is held in memory (and hashed) before the newline. */
const MAX_PASSWORD_CHARS = 1024;

/** The terminal side of stdin: raw mode turns off the echo and line editing, so we do the editing. */
export interface TerminalInput extends Readable {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export class CancelledError extends Error {
  override name = 'CancelledError';
}

/** One line from a terminal in raw mode: printable characters, Backspace, Ctrl-U; Enter ends, Ctrl-C cancels. */
function readHiddenLine(input: TerminalInput, prompt: Writable): Promise<string> {
  // Raw mode before the prompt: what is typed after seeing it is never echoed.
  input.setRawMode?.(true);
  prompt.write('Password (not shown): ');
  input.setEncoding('utf8');
  input.resume();
  let line = '';
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      prompt.write('\n');
      if (error) reject(error);
      else resolve(line);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') return done();
        if (char === '\u0003') return done(new CancelledError('cancelled'));
        if (char === '\u007f' || char === '\b') line = [...line].slice(0, -1).join('');
        else if (char === '\u0015') line = '';
        else if (char >= ' ' && line.length < MAX_PASSWORD_CHARS) line += char;
      }
    };
    input.on('data', onData);
  });
}

/** The first line of a pipe or file, without waiting for its end. */
async function readFirstLine(input: Readable): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += (chunk as Buffer).toString('utf8');
    const end = text.search(/\r?\n/);
    if (end >= 0) {
      input.destroy();
      return text.slice(0, end);
    }
    if (text.length > MAX_PASSWORD_CHARS) throw new UsageError(`the password is longer than ${MAX_PASSWORD_CHARS} characters`);
  }
  return text;
}

export const hashPasswordCommand: Command = {
  name: 'hash-password',
  synopsis: 'hash-password',
  summary: 'read a password (hidden on a terminal), print the hash for users[].passwordHash',
  usage: `usage: mxkit hash-password
  reads one password -- typed with echo off on a terminal, or the first line of a pipe -- and
  prints its scrypt hash for users[].passwordHash`,
  options: {},
  run: (args: ParsedCommandLine, print: Print) => {
    noMorePositionals(args, 0);
    return runHashPasswordCommand(print);
  },
};

export async function runHashPasswordCommand(print: Print, input: TerminalInput = process.stdin, prompt: Writable = process.stderr): Promise<number> {
  let password: string;
  try {
    password = input.isTTY ? await readHiddenLine(input, prompt) : await readFirstLine(input);
  } catch (error) {
    if (error instanceof CancelledError) return 130;
    throw error;
  }
  if (!password) throw new UsageError('no password on stdin');
  if (password.length > MAX_PASSWORD_CHARS) throw new UsageError(`the password is longer than ${MAX_PASSWORD_CHARS} characters`);
  print(await hashPassword(password));
  return 0;
}
