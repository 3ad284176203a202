/**
 * `mxkit relay --config FILE`: run the relay until SIGTERM/SIGINT. SIGHUP reads the config file
 * again (users, routes, limits, ...: relay/src/config/reload.ts) and the TLS files.
 */
import { setFlagsFromString } from 'node:v8';
import { loadRelay } from '../load-relay';
import { createLogger } from '../ops/logger';
import { startRelay } from '../relay';
import { noMorePositionals, requiredString, type Command, type ParsedCommandLine } from './contract';

export const relayCommand: Command = {
  name: 'relay',
  synopsis: 'relay --config FILE',
  summary: 'run the relay',
  usage: `usage: mxkit relay --config FILE
  runs the relay until SIGTERM or SIGINT (a graceful drain); SIGHUP re-reads the config file
  (a refused one changes nothing) and the TLS files.
  A bad config stops it with one line naming the field (exit 1).`,
  options: { config: { type: 'string' } },
  run: runRelayCommand,
};

/**
 * The relay process asks V8 to favour memory over speed. Measured by `npm run bench`
 * (docs/benchmarks.md, issue 17): peak PSS under the 20-session load fell from ~145-180 MiB to
 * ~95-105 MiB (the main heap's young generation stays 4-16 MiB instead of 32, and the old
 * generation is collected before it doubles); 200 x 10 MiB messages went 312 -> 195 MiB peak at
 * 74 -> 64 MB/s. It costs speed: round 4 measured 2.5 against 2.2-2.3 ms of CPU per message
 * without it, most of it TurboFan recompiling code discarded for "weak objects" (reduce-memory
 * collections keep no unused maps). The memory goal is worth more here. A V8
 * flag changed after start is documented as unpredictable in general; this one is read by the
 * garbage collector's heuristics each time they run, which is what the bench measures. It is
 * process-wide, so the delivery worker threads started later use it too. Set here, not in
 * startRelay: the process is the relay's only when this command runs it. (Set before the bundle
 * is evaluated, on the node command line, it saved 8 MiB more at idle but cost 50 ms of start.)
 */
const RELAY_V8_FLAGS = '--optimize-for-size';

async function runRelayCommand(args: ParsedCommandLine): Promise<number> {
  noMorePositionals(args, 0);
  setFlagsFromString(RELAY_V8_FLAGS);
  const configPath = requiredString(args, 'config');
  const loaded = await loadRelay(configPath);
  const logger = createLogger(loaded.config.log?.level);
  const relay = await startRelay(loaded, logger);
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'signal received');
      relay.shutdown().then(resolve, (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'signal received: reloading the config and TLS files');
    void relay.reloadConfig().then(() => relay.reloadTls());
  });
  logger.info({ addresses: relay.addresses }, 'relay ready');
  await stopped;
  return 0;
}
