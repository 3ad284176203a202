import type { ThrottleRule } from '../../../relay/src/config/deliverability';
import { DEFAULT_RULES } from '../../../relay/src/delivery/throttle-defaults';
import { ThrottleGroup } from '../../../relay/src/delivery/throttle-group';
import { RuleBook } from '../../../relay/src/delivery/throttle-rules';

const rules = new RuleBook(DEFAULT_RULES);
const minute = 60_000;

describe('throttle reply rules', () => {
  it("recognise Yahoo's TSS04, Microsoft's S3150 (in a multi-line reply) and Gmail's 4.7.28", () => {
    expect(rules.match('421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume or user complaints')?.match).toBe('[TSS04]');
    const microsoft = '550-5.7.1 Unfortunately, messages from [203.0.113.5] weren\'t sent.\r\n550-5.7.1 Please contact your Internet service provider\r\n550 5.7.1 since part of their network is on our block list (S3150).';
    expect(rules.match(microsoft)).toMatchObject({ match: 'S3150', event: 'blocklisted' });
    expect(rules.match('421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address.')?.match).toBe('4.7.28');
  });

  it('match a bare reply code only where a reply starts, also after "host: " in a greeting failure', () => {
    expect(rules.match('421 4.3.2 Too many connections')?.match).toBe('421');
    expect(rules.match('mx.example.net [192.0.2.1]: Invalid greeting: 421 Service not available')?.match).toBe('421');
    expect(rules.match('451 4.3.0 Temporary failure, reference 4211')).toBeUndefined();
    expect(rules.match('550 5.1.1 <a@b.example>: user unknown')).toBeUndefined();
  });

  it('check configured rules before the built-in ones', () => {
    const custom: ThrottleRule = { match: 'please slow down', coolOff: '2m', event: 'cool-off' };
    const book = new RuleBook([custom, ...DEFAULT_RULES]);
    expect(book.match('421 4.7.0 Please SLOW down')).toBe(custom);
  });
});

describe('a throttle group', () => {
  const group = (messagesPerMinute: number) => new ThrottleGroup('g', { label: 'g', concurrency: 2, messagesPerMinute }, minute);
  const rule: ThrottleRule = { match: '[TSS04]', coolOff: '10m', maxCoolOff: '40m', event: 'cool-off' };

  it('paces messages at its rate, reserving later turns in arrival order', () => {
    const paced = group(60); // one a second
    expect(paced.take('a', 0, 5_000)).toEqual({ kind: 'now' });
    expect(paced.take('b', 0, 5_000)).toEqual({ kind: 'wait', ms: 1000 });
    for (let index = 0; index < 5; index++) paced.take(`c${index}`, 0, 5_000);
    const late = paced.take('d', 0, 5_000);
    expect(late).toMatchObject({ kind: 'later', at: 7000 });
    // Coming back at its turn, the message gets exactly the slot it was given.
    expect(paced.take('d', 7000, 5_000)).toEqual({ kind: 'now' });
  });

  it('halves the rate it was getting on a cool-off, pauses, and doubles the pause on repeats up to the maximum', () => {
    const g = group(0);
    for (let at = 0; at < 40; at++) g.started(at * 1000);
    expect(g.coolOff(rule, 40_000)).toBe(40_000 + 10 * minute);
    expect(g.rate).toBe(20);
    expect(g.take('x', 41_000, 30_000)).toMatchObject({ kind: 'later', at: 40_000 + 10 * minute });
    const second = g.coolOff(rule, 11 * minute);
    expect(second).toBe(11 * minute + 20 * minute);
    const third = g.coolOff(rule, 32 * minute);
    expect(third - 32 * minute).toBe(40 * minute);
  });

  it('ramps back after successes: quickly to most of the old rate, then one message a minute, and an unlimited group ends unlimited', () => {
    const g = group(0);
    for (let at = 0; at < 40; at++) g.started(at * 1000);
    g.coolOff(rule, 40_000);
    const after = 40_000 + 10 * minute + 1;
    const rates: number[] = [];
    for (let step = 0; step < 200 && g.rate !== undefined; step++) {
      for (let success = 0; success < 10; success++) g.succeeded(after, 10);
      rates.push(g.rate ?? Infinity);
    }
    expect(rates.slice(0, 3)).toEqual([28, 36, 37]);
    expect(rates).toContain(41);
    expect(g.rate).toBeUndefined();
  });

  it('never ramps past its configured ceiling', () => {
    const g = group(100);
    for (let at = 0; at < 100; at++) g.started(at * 100);
    g.coolOff(rule, 10_000);
    for (let success = 0; success < 1000; success++) g.succeeded(10_000 + 40 * minute, 5);
    expect(g.rate).toBe(100);
  });
});
