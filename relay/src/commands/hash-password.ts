/** `mxkit hash-password`: reads a password on stdin (first line), prints its scrypt hash. */
import { hashPassword } from '../intake/password';
import { UsageError } from './args';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function runHashPasswordCommand(print: (line: string) => void): Promise<number> {
  if (process.stdin.isTTY) process.stderr.write('Password (input is not hidden; pipe it in to keep it off the screen): ');
  const password = (await readStdin()).split(/\r?\n/)[0];
  if (!password) throw new UsageError('no password on stdin');
  print(await hashPassword(password));
  return 0;
}
