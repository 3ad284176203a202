/**
 * Many recipients and domains: N messages, each to R recipients spread over D destination domains
 * (recipient k goes to domain k mod D), every domain its own MX (an smtp-sink on its own loopback
 * address). What it exercises: per-destination concurrency, one transaction per domain carrying all
 * of that domain's recipients, and connection reuse. Figures: recipients delivered per second (first
 * connection until the queue is empty), transactions the destinations saw, repeats, peak memory.
 *
 * mxkit finds each domain's MX through a bench DNS server (relay/src/local's, serving MX and A
 * records); Postfix gets the same hosts as a transport map, since its DNS lookups are off here.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DnsRecord } from '../../infra/builders/records';
import { startDnsServer, ZoneAnswerer } from '../../relay/src/local/dns-server';
import { runLoad } from '../load-client';
import { freePort, waitForBanner } from '../net';
import { samplePeakRss } from '../rss';
import { startSink, summariseDumps, type Sink } from '../sink';
import { startSystem, type SystemName } from '../systems';
import { SENDER } from '../throughput';

export interface RecipientsFigures {
  system: SystemName;
  messages: number;
  recipients: number;
  domains: number;
  recipientsPerSec: number;
  transactions: number;
  delivered: number;
  duplicates: number;
  peakPssMiB: number;
}

export interface RecipientsOptions {
  messages: number;
  recipients: number;
  domains: number;
  timeoutMs: number;
}

const ZONE = 'rcpt.bench.test';
const domainName = (index: number) => `d${index + 1}.${ZONE}`;
/** Each domain's MX listens on its own loopback address (127.0.1.1, 127.0.1.2, ...). */
const hostAddress = (index: number) => `127.0.1.${index + 1}`;

function zoneRecords(domains: number): DnsRecord[] {
  const record = (type: 'MX' | 'A', name: string, value: string, priority?: number): DnsRecord => ({ key: `${type}-${name}`, type, name, value, content: value, ttl: 300, ...(priority === undefined ? {} : { priority }) });
  return Array.from({ length: domains }, (_, index) => [
    record('MX', domainName(index), `mx.${domainName(index)}`, 10),
    record('A', `mx.${domainName(index)}`, hostAddress(index)),
  ]).flat();
}

export async function measureRecipients(name: SystemName, options: RecipientsOptions): Promise<RecipientsFigures> {
  const root = mkdtempSync(join(tmpdir(), `bench-rcpt-${name}-`));
  chmodSync(root, 0o755); // smtp-sink writes its dumps below as the postfix user
  const port = await freePort(hostAddress(0));
  const sinks: Sink[] = [];
  const dns = await startDnsServer(new ZoneAnswerer(zoneRecords(options.domains), [ZONE]), '127.0.0.1', 0);
  try {
    for (let index = 0; index < options.domains; index++) {
      sinks.push(await startSink(hostAddress(index), port, { dumpDir: join(root, 'arrived', String(index)) }));
      await waitForBanner(hostAddress(index), port);
    }
    const hosts = new Map(Array.from({ length: options.domains }, (_, index) => [domainName(index), hostAddress(index)]));
    const system = await startSystem(name, { root, destination: { domains: { dnsServer: `127.0.0.1:${dns.port}`, port, hosts } } });
    try {
      const pss = samplePeakRss(system.pids);
      const began = Date.now();
      const load = await runLoad({
        host: '127.0.0.1',
        port: system.port,
        messages: options.messages,
        concurrency: 20,
        messageBytes: 5120,
        from: SENDER,
        to: `r0@${domainName(0)}`,
        recipients: (message) => Array.from({ length: options.recipients }, (_, k) => `m${message}r${k}@${domainName(k % options.domains)}`),
      });
      while ((await system.queued()) > 0 && Date.now() - began < options.timeoutMs) await new Promise((resolve) => setTimeout(resolve, 100));
      const doneAt = (await system.queued()) > 0 ? NaN : Date.now();
      const peakPssMiB = pss.stop();
      const arrived = sinks.map((_, index) => summariseDumps(join(root, 'arrived', String(index))));
      const deliveries = arrived.reduce((sum, summary) => sum + summary.deliveries, 0);
      const distinct = arrived.reduce((sum, summary) => sum + summary.distinct, 0);
      return {
        system: name,
        messages: options.messages - load.failures,
        recipients: options.recipients,
        domains: options.domains,
        recipientsPerSec: distinct / ((doneAt - began) / 1000),
        transactions: arrived.reduce((sum, summary) => sum + summary.transactions, 0),
        delivered: distinct,
        duplicates: deliveries - distinct,
        peakPssMiB,
      };
    } finally {
      await system.stop();
    }
  } finally {
    await Promise.all(sinks.map((sink) => sink.stop()));
    await dns.close();
    rmSync(root, { recursive: true, force: true });
  }
}
