/**
 * `mxkit relay --config FILE`: run the relay until SIGTERM/SIGINT. SIGHUP reads the config file
 * again (users, routes, limits, ...: relay/src/config/reload.ts) and the TLS files.
 */
import { setFlagsFromString } from 'node:v8';
import { carriedProgram } from '../code-cache/carried-program';
import { loadRelay } from '../load-relay';
import { createLogger } from '../ops/logger';
import { startRelay } from '../relay';
import { relayHeapMode } from '../ops/heap-mode';
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

async function runRelayCommand(args: ParsedCommandLine): Promise<number> {
  noMorePositionals(args, 0);
  // Before anything is loaded; process-wide, so the delivery workers started later use it too.
  // Set here, not in startRelay: the process is the relay's only when this command runs it.
  const heapMode = relayHeapMode(process.execArgv, process.env.NODE_OPTIONS);
  setFlagsFromString(heapMode.runtimeFlags);
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
  // Whether this start was compiled from the code cache (`mxkit code-cache`).
  const codeCache = carriedProgram()?.status ?? 'not-bundled';
  relay.metrics.codeCacheInfo.set({ status: codeCache }, 1);
  logger.info({ addresses: relay.addresses, heapMode: heapMode.name, codeCache }, 'relay ready');
  await stopped;
  return 0;
}
