import { createSocket, type Socket } from 'node:dgram';
import { Writable } from 'node:stream';
import pino from 'pino';
import { dnsblZoneSchema } from '../../../relay/src/config/spam-schema';
import { RelayMetrics } from '../../../relay/src/ops/metrics';
import { DnsblChecker } from '../../../relay/src/spam/dnsbl';
import { startDnsServer, type TestDnsServer } from '../../helpers/dns-server';
import { metricValue } from '../../helpers/metrics';

function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunk.toString().split('\n').filter(Boolean).forEach((line) => lines.push(JSON.parse(line) as Record<string, unknown>));
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

const zone = (input: Record<string, unknown>) => dnsblZoneSchema().parse(input);

describe('DNSBL lookups through the relay resolver', () => {
  let dns: TestDnsServer;
  beforeAll(async () => {
    dns = await startDnsServer({
      '2.0.0.127.bl.test': { A: ['127.0.0.2'] },
      '10.0.0.127.bl.test': { A: ['127.0.0.10'] },
      '2.0.0.127.refusing.test': { A: ['127.255.255.254'] },
      '3.0.0.127.refusing.test': { A: ['127.255.255.254'] },
      [`1${'.0'.repeat(31)}.bl.test`]: { A: ['127.0.0.4'] },
      '2.0.0.127.hijacked.test': { A: ['198.51.100.1'] },
    });
  });
  afterAll(() => dns.close());

  it('finds a listed IPv4 client and leaves an unlisted one alone', async () => {
    const metrics = new RelayMetrics();
    const checker = new DnsblChecker({ zones: [zone({ zone: 'bl.test', action: 'reject' })], servers: [dns.address], timeoutMs: 2000, logger: capture().logger, metrics });
    expect(await checker.check('::ffff:127.0.0.2')).toEqual([{ zone: 'bl.test', name: 'bl.test', action: 'reject', answers: ['127.0.0.2'] }]);
    expect(await checker.check('127.0.0.5')).toEqual([]);
    expect(await metricValue(metrics, 'mxkit_dnsbl_hits_total', { zone: 'bl.test', action: 'reject' })).toBe(1);
  });

  it('asks for an IPv6 client in nibble form', async () => {
    const checker = new DnsblChecker({ zones: [zone({ zone: 'bl.test', action: 'flag' })], servers: [dns.address], timeoutMs: 2000, logger: capture().logger, metrics: new RelayMetrics() });
    expect(await checker.check('::1')).toEqual([{ zone: 'bl.test', name: 'bl.test', action: 'flag', answers: ['127.0.0.4'] }]);
  });

  it('applies returnCodes: an answer outside them is not a listing', async () => {
    const checker = new DnsblChecker({ zones: [zone({ zone: 'bl.test', action: 'reject', returnCodes: ['127.0.0.2'] })], servers: [dns.address], timeoutMs: 2000, logger: capture().logger, metrics: new RelayMetrics() });
    expect(await checker.check('127.0.0.10')).toEqual([]);
    expect(await checker.check('127.0.0.2')).toHaveLength(1);
  });

  it('treats 127.255.255.254 as a refused query: not listed, logged once, counted every time', async () => {
    const metrics = new RelayMetrics();
    const { logger, lines } = capture();
    const checker = new DnsblChecker({ zones: [zone({ zone: 'refusing.test', action: 'reject' })], servers: [dns.address], timeoutMs: 2000, logger, metrics });
    expect(await checker.check('127.0.0.2')).toEqual([]);
    expect(await checker.check('127.0.0.3')).toEqual([]);
    const warnings = lines.filter((line) => /DNSBL refused our query/.test(String(line.msg)));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ zone: 'refusing.test', answers: ['127.255.255.254'] });
    expect(await metricValue(metrics, 'mxkit_dnsbl_refused_total', { zone: 'refusing.test' })).toBe(2);
  });

  it('ignores answers outside 127.0.0.0/8 and says the zone looks out of service', async () => {
    const { logger, lines } = capture();
    const checker = new DnsblChecker({ zones: [zone({ zone: 'hijacked.test', action: 'reject' })], servers: [dns.address], timeoutMs: 2000, logger, metrics: new RelayMetrics() });
    expect(await checker.check('127.0.0.2')).toEqual([]);
    expect(lines.some((line) => /outside 127\.0\.0\.0\/8/.test(String(line.msg)))).toBe(true);
  });

  it('gives up on a silent DNS server within the time limit and counts the client as not listed', async () => {
    const silent: Socket = createSocket('udp4');
    silent.on('message', () => undefined);
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
    try {
      const metrics = new RelayMetrics();
      const checker = new DnsblChecker({ zones: [zone({ zone: 'bl.test', action: 'reject' })], servers: [`127.0.0.1:${silent.address().port}`], timeoutMs: 300, logger: capture().logger, metrics });
      const started = Date.now();
      expect(await checker.check('127.0.0.2')).toEqual([]);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await metricValue(metrics, 'mxkit_dnsbl_errors_total', { zone: 'bl.test' })).toBe(1);
    } finally {
      silent.close();
    }
  });

  it('answers a repeat visitor from its cache, without asking the DNS again', async () => {
    const counting = await startDnsServer({ '2.0.0.127.bl.test': { A: ['127.0.0.2'] } });
    try {
      const checker = new DnsblChecker({ zones: [zone({ zone: 'bl.test', action: 'reject' })], servers: [counting.address], timeoutMs: 2000, logger: capture().logger, metrics: new RelayMetrics() });
      expect(await checker.check('127.0.0.2')).toHaveLength(1);
      counting.zones.delete('2.0.0.127.bl.test');
      expect(await checker.check('127.0.0.2')).toHaveLength(1);
    } finally {
      await counting.close();
    }
  });

  it('keeps a DQS key out of names, logs and metrics', async () => {
    const key = 'abcdefghijklmnopqrstuvwxyz';
    const keyed = await startDnsServer({ [`2.0.0.127.${key}.zen.dq.spamhaus.net`]: { A: ['127.255.255.254'] } });
    try {
      const metrics = new RelayMetrics();
      const { logger, lines } = capture();
      const checker = new DnsblChecker({ zones: [zone({ zone: `${key}.zen.dq.spamhaus.net`, action: 'reject' })], servers: [keyed.address], timeoutMs: 2000, logger, metrics });
      await checker.check('127.0.0.2');
      expect(JSON.stringify(lines)).not.toContain(key);
      expect(await metrics.registry.metrics()).not.toContain(key);
      expect(await metricValue(metrics, 'mxkit_dnsbl_refused_total', { zone: 'zen.dq.spamhaus.net' })).toBe(1);
    } finally {
      await keyed.close();
    }
  });
});
