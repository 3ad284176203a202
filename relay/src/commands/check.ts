/**
 * `mxkit check --domain D [--host H] [--selector S] [--dns-server HOST:PORT] [--json] …`: argv to
 * CheckOptions, run, print, exit code (0 all pass or warn, 1 anything failed, 64 bad usage).
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_DNSBL_ZONES, DEFAULT_RELAY_METRICS } from '../check/defaults';
import type { CheckOptions } from '../check/types';
import { flag, noMorePositionals, optionalString, requiredString, UsageError, type Command, type ParsedCommandLine, type Print } from './contract';

const stringOption = { type: 'string' } as const;

export const checkCommand: Command = {
  name: 'check',
  synopsis: 'check --domain D [--host H] [--dns-server HOST:PORT] [--json] ...',
  summary: 'deliverability checks against live DNS and ports (exit 1 when one fails)',
  usage: `usage: mxkit check --domain D [--host H] [--selector S] [--dns-server HOST:PORT] [--json]
        [--smtp-port 25] [--submission-port 587] [--submissions-port 465] [--https-port 443]
        [--ca FILE] [--closed-ports 22] [--dnsbl zen.spamhaus.org,bl.spamcop.net]
        [--relay-test-rcpt ADDRESS] [--relay-metrics URL|none] [--timeout 5000]
  deliverability checks against live DNS and ports (docs/check.md); exit 0 when everything
  passes or only warns, 1 when a check fails`,
  options: {
    domain: stringOption,
    host: stringOption,
    selector: stringOption,
    'dns-server': stringOption,
    'smtp-port': stringOption,
    'submission-port': stringOption,
    'submissions-port': stringOption,
    'https-port': stringOption,
    ca: stringOption,
    'closed-ports': stringOption,
    dnsbl: stringOption,
    'relay-test-rcpt': stringOption,
    'relay-metrics': stringOption,
    timeout: stringOption,
    json: { type: 'boolean' },
  },
  run: runCheckCommand,
};

function port(args: ParsedCommandLine, name: string, fallback: number): number {
  const value = optionalString(args, name);
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < 1 || number > 65535) throw new UsageError(`--${name} must be a port number (1-65535)`);
  return number;
}

/** A comma list; an empty value (`--dnsbl ""`, `--closed-ports none`) turns the check off. */
function list(args: ParsedCommandLine, name: string, fallback: string[]): string[] {
  const value = optionalString(args, name);
  if (value === undefined) return fallback;
  if (value === 'none') return [];
  return value.split(',').map((item) => item.trim()).filter(Boolean);
}

export function checkOptions(args: ParsedCommandLine): CheckOptions {
  noMorePositionals(args, 0);
  const closedPorts = list(args, 'closed-ports', ['22']).map((value) => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new UsageError(`--closed-ports: "${value}" is not a port`);
    return Number(value);
  });
  const caFile = optionalString(args, 'ca');
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new UsageError(`--ca ${caFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  const timeout = optionalString(args, 'timeout') ?? '5000';
  if (!/^\d+$/.test(timeout) || Number(timeout) < 1) throw new UsageError('--timeout must be milliseconds');
  const domain = requiredString(args, 'domain');
  // On the relay host its metrics say whether outbound port 25 is open; elsewhere the default
  // endpoint is simply not there and the check is left out.
  const metricsOption = optionalString(args, 'relay-metrics');
  if (metricsOption !== undefined && metricsOption !== 'none' && !/^https?:\/\/[^\s]+$/.test(metricsOption)) throw new UsageError(`--relay-metrics "${metricsOption}" is not an http(s) URL`);
  const options: CheckOptions = {
    domain,
    host: optionalString(args, 'host'),
    selector: optionalString(args, 'selector') ?? 'mx1',
    dnsServer: optionalString(args, 'dns-server'),
    ports: {
      smtp: port(args, 'smtp-port', 25),
      submission: port(args, 'submission-port', 587),
      submissions: port(args, 'submissions-port', 465),
      https: port(args, 'https-port', 443),
    },
    closedPorts,
    dnsblZones: list(args, 'dnsbl', DEFAULT_DNSBL_ZONES),
    ca,
    // A domain reserved for documentation (RFC 2606) that is not ours: relaying there must be refused.
    relayTestRecipient: optionalString(args, 'relay-test-rcpt') ?? 'mxkit-relay-test@example.org',
    timeoutMs: Number(timeout),
    ...(metricsOption === 'none' ? {} : { relayMetrics: { url: metricsOption ?? DEFAULT_RELAY_METRICS, required: metricsOption !== undefined } }),
  };
  if (options.dnsServer !== undefined && !/^(\[[0-9a-f:.]+\]|[^:\s]+)(:\d{1,5})?$/i.test(options.dnsServer)) {
    throw new UsageError(`--dns-server "${options.dnsServer}" is not HOST:PORT`);
  }
  return options;
}

async function runCheckCommand(args: ParsedCommandLine, print: Print): Promise<number> {
  const json = flag(args, 'json');
  // Loaded here, not with the command table: mailauth's SPF code and its schema library cost every
  // other command (the relay's start above all) ~50 ms to evaluate (docs/benchmarks.md).
  const [{ runChecks }, { exitCode, formatJson, formatText }] = await Promise.all([import('../check/run-checks.js'), import('../check/report.js')]);
  const report = await runChecks(checkOptions(args));
  // print adds the final newline.
  print((json ? formatJson(report) : formatText(report)).replace(/\n$/, ''));
  return exitCode(report);
}
