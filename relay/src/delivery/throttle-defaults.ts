/**
 * The built-in provider table and reply rules of the adaptive throttle (docs/deliverability.md).
 * Providers are recognised by their MX host names, not by the recipient domain: outlook.com,
 * hotmail.com and every Microsoft 365 tenant share *.protection.outlook.com; Yahoo, AOL and their
 * partner domains share *.yahoodns.net; Gmail and Google Workspace share *.google.com.
 * `delivery.throttle.providers` entries replace these by name; `delivery.throttle.rules` are
 * checked before these rules.
 */
import type { ProviderConfig, ThrottleRule } from '../config/deliverability';

export const DEFAULT_PROVIDERS: readonly ProviderConfig[] = [
  // support.google.com/a/answer/81126 (sender guidelines): ramp volume slowly, back off on 4.7.x.
  { name: 'google', mxSuffixes: ['google.com', 'googlemail.com'], concurrency: 5, messagesPerMinute: 600 },
  // learn.microsoft.com/.../exchange-online-limits and sendersupport.olc.protection.outlook.com/pm/
  { name: 'microsoft', mxSuffixes: ['outlook.com', 'hotmail.com'], concurrency: 4, messagesPerMinute: 300 },
  // senders.yahooinc.com/best-practices: few connections, slow down on TSS04.
  { name: 'yahoo', mxSuffixes: ['yahoodns.net', 'yahoo.com', 'aol.com'], concurrency: 3, messagesPerMinute: 120 },
  { name: 'apple', mxSuffixes: ['icloud.com', 'me.com', 'mac.com'], concurrency: 3, messagesPerMinute: 120 },
  { name: 'gmx-webde', mxSuffixes: ['gmx.net', 'gmx.com', 'web.de'], concurrency: 3, messagesPerMinute: 120 },
  { name: 'mailru', mxSuffixes: ['mail.ru'], concurrency: 3, messagesPerMinute: 120 },
  { name: 'yandex', mxSuffixes: ['yandex.net', 'yandex.ru'], concurrency: 3, messagesPerMinute: 120 },
  { name: 'comcast', mxSuffixes: ['comcast.net'], concurrency: 2, messagesPerMinute: 60 },
];

/**
 * Reply patterns that mean "you are sending too much, or you are blocked": the whole provider group
 * pauses (cool-off, doubling on repeats up to maxCoolOff) and resumes at half the rate it had.
 * A pattern beginning with a reply code ("421") matches only a reply that begins with it.
 */
export const DEFAULT_RULES: readonly ThrottleRule[] = [
  // Yahoo (senders.yahooinc.com/smtp-error-codes): TSS04 volume/complaints, TS01/TS02 temporary
  // blocks, TS03 a permanent one.
  { match: '[TSS04]', coolOff: '15m', maxCoolOff: '4h', event: 'cool-off' },
  { match: '[TS01]', coolOff: '30m', maxCoolOff: '8h', event: 'cool-off' },
  { match: '[TS02]', coolOff: '30m', maxCoolOff: '8h', event: 'cool-off' },
  { match: '[TS03]', coolOff: '4h', maxCoolOff: '24h', event: 'blocklisted' },
  // Gmail (support.google.com/a/answer/3726730): 4.7.28 unusual rate of unsolicited mail.
  { match: '4.7.28', coolOff: '15m', maxCoolOff: '4h', event: 'cool-off' },
  // Microsoft: S3150/S3140 the IP is on its block list; 4.7.650 reputation rate limit; 4.7.500
  // (S77714) server busy.
  { match: 'S3150', coolOff: '1h', maxCoolOff: '24h', event: 'blocklisted' },
  { match: 'S3140', coolOff: '1h', maxCoolOff: '24h', event: 'blocklisted' },
  { match: '4.7.650', coolOff: '15m', maxCoolOff: '4h', event: 'cool-off' },
  { match: '4.7.500', coolOff: '5m', maxCoolOff: '1h', event: 'cool-off' },
  // Public DNS blocklists named in a refusal.
  { match: 'spamhaus', coolOff: '1h', maxCoolOff: '24h', event: 'blocklisted' },
  { match: 'blocklist', coolOff: '1h', maxCoolOff: '24h', event: 'blocklisted' },
  { match: 'blacklist', coolOff: '1h', maxCoolOff: '24h', event: 'blocklisted' },
  { match: 'block list', coolOff: '1h', maxCoolOff: '24h', event: 'blocklisted' },
  // RFC 5321 4.2.3: 421 "service not available, closing transmission channel" -- from a busy MX
  // usually "too many connections/messages"; a short pause, not a hammering retry.
  { match: '421', coolOff: '1m', maxCoolOff: '30m', event: 'cool-off' },
];
