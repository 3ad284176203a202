/**
 * Reads the relay config file once and parses it into a typed RelayConfig; every error is a
 * ConfigError naming the field. The files the config names are read by their owners through
 * named-file.ts (load-relay.ts gathers them at start; config-reloader.ts again on SIGHUP).
 */
import { readNamedFile } from './named-file';
import { ConfigError, parseRelayConfig, type RelayConfig } from './schema';

export async function readConfigFile(path: string): Promise<RelayConfig> {
  return (await readConfigText(path)).config;
}

/** The config and the text it was parsed from (whose hash names the revision in logs and metrics). */
export async function readConfigText(path: string): Promise<{ config: RelayConfig; text: string }> {
  const text = (await readNamedFile('--config', path)).toString('utf8');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    // Only the position: newer Node versions quote the input, which may hold password hashes.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new ConfigError(`--config: ${path} is not valid JSON${position === undefined ? '' : ` (at character ${position})`}`);
  }
  return { config: parseRelayConfig(document), text };
}
