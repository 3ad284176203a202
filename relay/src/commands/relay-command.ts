/** `mxkit relay --config FILE`: run the relay until SIGTERM/SIGINT; SIGHUP reloads TLS files. */
import { loadRelay } from '../config/load';
import { createLogger } from '../ops/logger';
import { startRelay } from '../relay';
import { requireOption, type ParsedArgs } from './args';

export async function runRelayCommand(args: ParsedArgs): Promise<number> {
  const configPath = requireOption(args, 'config');
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
  process.on('SIGHUP', () => void relay.reloadTls());
  logger.info({ addresses: relay.addresses }, 'relay ready');
  await stopped;
  return 0;
}
