/**
 * `mxkit local [--state DIR] [--ports auto] [--rspamd off]`: runs the whole mail system on loopback until
 * Ctrl-C or SIGTERM, then stops every part and every child process. A second Ctrl-C skips the
 * relay's graceful drain. Returns the exit code; cli.ts prints errors and exits.
 */
import { LocalError } from '../local/errors';
import { AUTO_PORTS, DEFAULT_PORTS, DEFAULT_STATE_DIR, type LocalPorts } from '../local/settings';
import { noMorePositionals, optionalString, UsageError, type Command, type ParsedCommandLine, type Print } from './contract';

export const localCommand: Command = {
  name: 'local',
  synopsis: 'local [--state DIR] [--ports auto] [--rspamd off]',
  summary: 'the whole mail system on loopback: DNS, relay, a receiving inbox',
  usage: `usage: mxkit local [--state DIR] [--ports auto] [--rspamd off]
  runs DNS, the relay and a receiving inbox on loopback until Ctrl-C (docs/local.md)
  --state DIR     keys, spool and endpoints.json live here (default ${DEFAULT_STATE_DIR})
  --ports auto    free ports instead of the documented fixed ones
  --rspamd off    no content scanning even when rspamd is installed`,
  options: { state: { type: 'string' }, ports: { type: 'string' }, rspamd: { type: 'string' } },
  run: (args, print) => runLocalCommand(args, print),
};

interface LocalArgs {
  stateDir: string;
  ports: LocalPorts;
  /** `--rspamd off`: no content scanning even when rspamd is installed. */
  rspamd: boolean;
}

function localArgs(args: ParsedCommandLine): LocalArgs {
  noMorePositionals(args, 0);
  const state = optionalString(args, 'state');
  const ports = optionalString(args, 'ports');
  if (state === '') throw new UsageError('--state needs a folder');
  if (ports !== undefined && ports !== 'auto') throw new UsageError('--ports takes only "auto" (without it, the documented fixed ports are used)');
  const rspamd = optionalString(args, 'rspamd');
  if (rspamd !== undefined && rspamd !== 'off') throw new UsageError('--rspamd takes only "off" (without it, rspamd runs when it is installed)');
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

export async function runLocalCommand(args: ParsedCommandLine, print: Print, bundle = process.argv[1]): Promise<number> {
  const { stateDir, ports, rspamd } = localArgs(args);
  let killRelay: () => void = () => undefined;
  // Listening from the start, so a Ctrl-C during start-up still stops what has started.
  const signal = stopSignal(() => killRelay());
  try {
    // Loaded here, not with the command table: the local system brings mailauth's verifiers and a
    // certificate generator that no other command needs (the relay's start above all).
    const [{ startLocalSystem }, { arrivalLine, banner }] = await Promise.all([import('../local/local-system.js'), import('../local/banner.js')]);
    const system = await startLocalSystem({ stateDir, ports, bundle, onMessage: (message) => print(arrivalLine(message)), onRelayNews: print, ...(rspamd ? {} : { rspamdBinary: null }) });
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
