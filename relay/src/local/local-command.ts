/**
 * `mxkit local [--state DIR] [--ports auto] [--rspamd off]`: runs the whole mail system on loopback until
 * Ctrl-C or SIGTERM, then stops every part and every child process. A second Ctrl-C skips the
 * relay's graceful drain. Returns the exit code; cli.ts prints errors and exits.
 */
import { UsageError, type ParsedArgs } from '../commands/args';
import { arrivalLine, banner } from './banner';
import { LocalError } from './errors';
import { startLocalSystem } from './local-system';
import { AUTO_PORTS, DEFAULT_PORTS, DEFAULT_STATE_DIR, type LocalPorts } from './settings';

export const LOCAL_USAGE = 'mxkit local [--state DIR] [--ports auto] [--rspamd off]';

interface LocalArgs {
  stateDir: string;
  ports: LocalPorts;
  /** `--rspamd off`: no content scanning even when rspamd is installed. */
  rspamd: boolean;
}

function localArgs(args: ParsedArgs): LocalArgs {
  if (args.positionals.length > 0) throw new UsageError(`local: unexpected argument "${args.positionals[0]}" (usage: ${LOCAL_USAGE})`);
  for (const name of args.options.keys()) {
    if (name !== 'state' && name !== 'ports' && name !== 'rspamd') throw new UsageError(`local: unknown option --${name} (usage: ${LOCAL_USAGE})`);
  }
  const state = args.options.get('state');
  const ports = args.options.get('ports');
  if (state === '' || state === true) throw new UsageError('local: --state needs a folder');
  if (ports !== undefined && ports !== 'auto') throw new UsageError('local: --ports takes only "auto" (without it, the documented fixed ports are used)');
  const rspamd = args.options.get('rspamd');
  if (rspamd !== undefined && rspamd !== 'off') throw new UsageError('local: --rspamd takes only "off" (without it, rspamd runs when it is installed)');
  return { stateDir: state ?? DEFAULT_STATE_DIR, ports: ports === 'auto' ? AUTO_PORTS : DEFAULT_PORTS, rspamd: rspamd !== 'off' };
}

/** Resolves on the first SIGINT/SIGTERM; later ones call `again` (the impatient second Ctrl-C). */
function stopSignal(again: () => void): { requested: Promise<string>; dispose(): void } {
  let first: ((signal: string) => void) | undefined;
  const requested = new Promise<string>((resolve) => (first = resolve));
  let seen = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (seen) return again();
    seen = true;
    first?.(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    requested,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export async function runLocalCommand(args: ParsedArgs, print: (line: string) => void, bundle = process.argv[1]): Promise<number> {
  const { stateDir, ports, rspamd } = localArgs(args);
  let killRelay: () => void = () => undefined;
  // Listening from the start, so a Ctrl-C during start-up still stops what has started.
  const signal = stopSignal(() => killRelay());
  try {
    const system = await startLocalSystem({ stateDir, ports, bundle, onMessage: (message) => print(arrivalLine(message)), ...(rspamd ? {} : { rspamdBinary: null }) });
    killRelay = system.killRelay;
    const { folder, caFile, endpoints, ports: bound } = system;
    const lines = banner({ stateDir: folder.root, caFile, endpoints, health: bound.health, inboxSmtpPort: bound.inboxSmtp, bundle, scanning: system.scanning });
    for (const line of lines) print(line);
    // Last, so whoever sees endpoints.json also finds the instructions already printed.
    await system.publish();
    const outcome = await Promise.race([signal.requested.then((name) => ({ signal: name })), system.relayDied.then((code) => ({ died: code }))]);
    if ('signal' in outcome) print(`mxkit local: ${outcome.signal} received, stopping`);
    await system.stop();
    if ('died' in outcome) throw new LocalError(`the relay exited unexpectedly (${outcome.died}); see ${system.folder.path('relay.log')}`);
    print('mxkit local: stopped');
    return 0;
  } finally {
    signal.dispose();
  }
}
