/**
 * SIGHUP: read the config file again and switch the running relay to it, all or nothing. Everything
 * is read and built first (the file, its DKIM keys, OAuth key files, the smarthost password, the
 * spam filter); only when all of it worked are the listeners and delivery switched. A file that
 * does not validate is refused with one log line naming the field and a metric, and the running
 * config stays. What only a restart applies is kept as it runs and named (config/reload.ts).
 */
import type { KeyObject } from 'node:crypto';
import { readConfigText } from './config/load';
import { configRevision, pinRestartOnly } from './config/reload';
import { ConfigError, type RelayConfig } from './config/schema';
import { readDkimKeys } from './load-relay';
import type { Logger } from './ops/logger';
import type { RelayMetrics } from './ops/metrics';

export type ReloadResult = { applied: true; revision: string; needsRestart: string[] } | { applied: false; error: string };

export interface Reloadable<G> {
  configPath: string | undefined;
  revision: string;
  logger: Logger;
  metrics: RelayMetrics;
  /** The generation running now (its config is what a reload compares with). */
  current(): G & { config: RelayConfig };
  /** Builds the intake's parts for `config`; throws (a ConfigError) when they cannot be built. */
  build(config: RelayConfig, previous: G): Promise<G & { config: RelayConfig }>;
  /** Checks delivery's parts and returns the step that switches to them. */
  prepareDelivery(config: RelayConfig, dkimKeys: Map<string, KeyObject>): Promise<() => void>;
  /** Switches the listeners to `generation` (new sessions only). */
  apply(generation: G & { config: RelayConfig }): void;
}

export function configReloader<G>(deps: Reloadable<G>): () => Promise<ReloadResult> {
  const { logger, metrics } = deps;
  let revision = deps.revision;
  metrics.configInfo.set({ revision }, 1);
  metrics.configLastReloadSuccessful.set(1);
  metrics.configRestartNeeded.set(0);

  const once = async (): Promise<ReloadResult> => {
    if (!deps.configPath) return { applied: false, error: 'the relay was not started from a config file' };
    let text: string;
    let pinned: ReturnType<typeof pinRestartOnly>;
    let prepared: G & { config: RelayConfig };
    let commitDelivery: () => void;
    try {
      const next = await readConfigText(deps.configPath);
      text = next.text;
      pinned = pinRestartOnly(deps.current().config, next.config);
      const dkimKeys = await readDkimKeys(pinned.config);
      prepared = await deps.build(pinned.config, deps.current());
      commitDelivery = await deps.prepareDelivery(pinned.config, dkimKeys);
    } catch (error) {
      const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
      metrics.configReloads.inc({ result: 'refused' });
      metrics.configLastReloadSuccessful.set(0);
      logger.error({ revision }, `config reload refused, still running the previous config: ${message}`);
      return { applied: false, error: message };
    }
    commitDelivery();
    deps.apply(prepared);
    if (pinned.config.log?.level) logger.level = pinned.config.log.level;
    metrics.configInfo.reset();
    revision = configRevision(text);
    metrics.configInfo.set({ revision }, 1);
    metrics.configReloads.inc({ result: 'applied' });
    metrics.configLastReloadSuccessful.set(1);
    metrics.configRestartNeeded.set(pinned.needsRestart.length > 0 ? 1 : 0);
    const { config } = pinned;
    logger.info({ revision, users: config.users.length, routes: config.routes.length, oauthIssuers: config.auth.oauth.length }, 'config reloaded: new sessions use it, open sessions finish under the previous one');
    if (pinned.needsRestart.length > 0) {
      logger.warn({ settings: pinned.needsRestart }, `config reload: ${pinned.needsRestart.join(', ')} changed; they take effect only after a restart, the running values are kept until then`);
    }
    return { applied: true, revision, needsRestart: pinned.needsRestart };
  };

  // One reload at a time: a second SIGHUP during a reload runs after it, on the newest file.
  let queue = Promise.resolve<ReloadResult>({ applied: false, error: 'no reload yet' });
  return () => (queue = queue.then(once, once));
}
