/**
 * Failures a person can act on (a port in use, a broken state folder). The command prints the
 * message as one line and exits non-zero; anything else is a bug and keeps its stack in the log.
 */
export class LocalError extends Error {
  override name = 'LocalError';

  constructor(message: string) {
    // cli.ts prints "mxkit: <message>" for a runtime failure: name the command.
    super(`local: ${message}`);
  }
}

/** One line for a listener that could not bind, with the fix (the other process, or `--ports auto`). */
export function listenError(what: string, host: string, port: number, error: NodeJS.ErrnoException): LocalError {
  if (error.code === 'EADDRINUSE') {
    return new LocalError(`${what} ${host}:${port} is already in use (another mxkit local?); stop it or run with --ports auto`);
  }
  if (error.code === 'EADDRNOTAVAIL') return new LocalError(`${what}: address ${host} is not available on this machine's loopback`);
  if (error.code === 'EACCES') return new LocalError(`${what} ${host}:${port} needs privileges; pick another port or use --ports auto`);
  return new LocalError(`${what} ${host}:${port}: ${error.message}`);
}
