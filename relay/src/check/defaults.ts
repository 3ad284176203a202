/**
 * `mxkit check`'s defaults, apart from the checks that use them so that the command's contract
 * (commands/check.ts) can name them without loading the checks: the relay never runs them, and
 * what loads at start is paid at every start (docs/architecture.md "What loads at start").
 */

/** The relay's listen.http on a deployed host (infra/builders/relay-config.ts). */
export const DEFAULT_RELAY_METRICS = 'http://127.0.0.1:8025/metrics';

export const DEFAULT_DNSBL_ZONES = ['zen.spamhaus.org', 'bl.spamcop.net'];
