/**
 * rspamd's own small config: `local.d` files merged into rspamd's shipped defaults
 * (rspamd.com/doc/faq.html#what-are-the-locald-and-overrided-directories). The same builder makes
 * the deployed container's files (infra) and the config of Debian's rspamd under `mxkit local` and
 * the tests, so the engine the tests exercise is configured the way production is.
 * Pure: values in, file texts out.
 */

export interface RspamdConfigInput {
  /** host:port of the normal (scan) worker; the relay's `spam.rspamd.url` points here. */
  scanSocket: string;
  /** host:port of the controller (web UI, maps, stats); undefined: no controller. */
  controllerSocket?: string;
  /** rspamd's resolver; undefined: the host's (/etc/resolv.conf). */
  dnsServers?: readonly string[];
  /** The relay's thresholds, so rspamd's recommended action agrees with what the relay does. */
  flagScore: number;
  rejectScore: number | null;
  /**
   * Nothing leaves the machine: no public fuzzy storage, and test patterns on (their non-reject
   * variants let anyone skip filtering, so never in production: rspamd.com/doc/other/gtube_patterns.html).
   */
  offline?: { urlTldFile: string };
  /** Default: console (the container's log goes to journald). */
  logFile?: string;
}

const ucl = (text: string) => JSON.stringify(text);

/** File name → content, for a `local.d` folder. */
export function rspamdLocalConfig(input: RspamdConfigInput): Record<string, string> {
  const options: string[] = [];
  if (input.dnsServers && input.dnsServers.length > 0) {
    options.push(`dns {\n  nameserver = [${input.dnsServers.map(ucl).join(', ')}];\n  timeout = 2s;\n  retransmits = 2;\n}`);
  }
  if (input.offline) {
    // A few TLDs instead of the public suffix list: start-up in about a second, not ten.
    options.push(`url_tld = ${ucl(input.offline.urlTldFile)};`);
    options.push('enable_test_patterns = true;', 'gtube_patterns = "all";');
  }
  const files: Record<string, string> = {
    ...(options.length > 0 ? { 'options.inc': `${options.join('\n')}\n` } : {}),
    'worker-normal.inc': `bind_socket = ${ucl(input.scanSocket)};\n${input.offline ? 'count = 1;\n' : ''}`,
    'worker-controller.inc': input.controllerSocket ? `bind_socket = ${ucl(input.controllerSocket)};\n` : 'enabled = false;\n',
    // The relay talks HTTP to the normal worker; the milter proxy is not used.
    'worker-proxy.inc': 'enabled = false;\n',
    // rspamd only scores here: the relay signs and seals (DKIM, ARC) itself.
    'dkim_signing.conf': 'enabled = false;\n',
    'arc.conf': 'enabled = false;\n',
    // No greylisting (the relay answers from the score, and greylisting needs redis).
    'actions.conf': `reject = ${input.rejectScore ?? 'null'};\nadd_header = ${input.flagScore};\ngreylist = null;\n`,
    'logging.inc': input.logFile ? `type = "file";\nfilename = ${ucl(input.logFile)};\nlevel = "warning";\n` : 'type = "console";\nlevel = "warning";\n',
  };
  if (input.offline) files['fuzzy_check.conf'] = 'enabled = false;\n';
  return files;
}

/** The TLD list for `offline` (one a line): the names tests and `mxkit local` use. */
export const OFFLINE_TLDS = ['test', 'example', 'invalid', 'localhost', 'com', 'net', 'org'];
