import { returnCodeList } from '../../../relay/src/config/spam-schema';
import { answerMeaning, dnsblQueryName, zoneDisplayName } from '../../../relay/src/spam/dnsbl-query';
import { encodeSubject, removeSpamHeaders, replaceSubject } from '../../../relay/src/spam/header-edit';
import { SendingRateLimiter } from '../../../relay/src/spam/rate-limit';
import type { RspamdResult } from '../../../relay/src/spam/rspamd-client';
import { judge, refusalText, spamHeaders } from '../../../relay/src/spam/verdict';

describe('DNSBL query names (RFC 5782)', () => {
  it('reverses the octets of an IPv4 address, also when it arrives IPv4-mapped', () => {
    expect(dnsblQueryName('192.0.2.99', 'zen.spamhaus.org')).toBe('99.2.0.192.zen.spamhaus.org');
    expect(dnsblQueryName('::ffff:127.0.0.2', 'bl.test')).toBe('2.0.0.127.bl.test');
  });

  it('reverses the 32 nibbles of an IPv6 address, with :: expanded (the RFC 5782 2.4 example)', () => {
    expect(dnsblQueryName('2001:db8:1:2:3:4:567:89ab', 'bl.test')).toBe('b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.test');
    expect(dnsblQueryName('::1', 'bl.test')).toBe(`1${'.0'.repeat(31)}.bl.test`);
    expect(dnsblQueryName('2001:db8::', 'bl.test')).toBe(`${'0.'.repeat(24)}8.b.d.0.1.0.0.2.bl.test`);
  });

  it('asks nothing for something that is not an address', () => {
    expect(dnsblQueryName('not-an-ip', 'bl.test')).toBeUndefined();
    expect(dnsblQueryName('1:2:3:4:5:6:7:8:9', 'bl.test')).toBeUndefined();
  });
});

describe('DNSBL answers', () => {
  it('counts 127.0.0.0/8 answers as listed, NXDOMAIN as not', () => {
    expect(answerMeaning(['127.0.0.2'])).toBe('listed');
    expect(answerMeaning([])).toBe('not_listed');
  });

  it('takes 127.255.255.0/24 as a refused query, never as a listing', () => {
    expect(answerMeaning(['127.255.255.254'])).toBe('refused');
    expect(answerMeaning(['127.0.0.2', '127.255.255.255'])).toBe('refused');
  });

  it('distrusts answers outside 127.0.0.0/8 (a lapsed list domain answering for everything)', () => {
    expect(answerMeaning(['203.0.113.7'])).toBe('unexpected');
  });

  it('counts only the configured return codes when a zone has them', () => {
    const codes = returnCodeList(['127.0.0.2', '127.0.0.4/30']);
    expect(answerMeaning(['127.0.0.10'], codes)).toBe('not_listed');
    expect(answerMeaning(['127.0.0.6'], codes)).toBe('listed');
    expect(answerMeaning(['127.0.0.11', '127.0.0.2'], codes)).toBe('listed');
  });

  it('names a Spamhaus DQS zone without its key', () => {
    expect(zoneDisplayName('abcdefghijklmnopqrstuvwxyz.zen.dq.spamhaus.net')).toBe('zen.dq.spamhaus.net');
    expect(zoneDisplayName('zen.spamhaus.org')).toBe('zen.spamhaus.org');
  });
});

const result = (overrides: Partial<RspamdResult>): RspamdResult => ({ action: 'no action', score: 0, symbols: [], ...overrides });

describe('verdicts from rspamd', () => {
  const thresholds = { flagScore: 6, rejectScore: 15 };

  it('rejects at rejectScore or on rspamd\'s "reject", flags from flagScore or on add header / rewrite subject', () => {
    expect(judge(result({ score: 15 }), thresholds)).toBe('reject');
    expect(judge(result({ action: 'reject', score: 2 }), thresholds)).toBe('reject');
    expect(judge(result({ score: 6 }), thresholds)).toBe('flag');
    expect(judge(result({ action: 'rewrite subject' }), thresholds)).toBe('flag');
    expect(judge(result({ action: 'greylist', score: 4 }), thresholds)).toBe('accept');
    expect(judge(result({ action: 'soft reject', score: 1 }), thresholds)).toBe('soft_reject');
  });

  it('never refuses in flag-only mode (rejectScore null)', () => {
    expect(judge(result({ action: 'reject', score: 40 }), { flagScore: 6, rejectScore: null })).toBe('flag');
  });

  it('gives rspamd\'s SMTP text as the reason, cleaned of control characters, else the score', () => {
    expect(refusalText(result({ smtpMessage: 'Spam\r\n250 ok\u0007' }), thresholds)).toBe('Spam 250 ok');
    expect(refusalText(result({ score: 16.25 }), thresholds)).toBe('spam score 16.25 of 15.00');
  });

  it('writes X-Spam, X-Spam-Score and X-Spamd-Result with symbols folded and hostile options neutralised', () => {
    const headers = spamHeaders(
      result({ action: 'add header', score: 7.5, symbols: [{ name: 'BAYES_SPAM', score: 5, options: ['99%'] }, { name: 'EVIL', score: 2.5, options: ['a]b;c\r\nX-Injected: 1'] }] }),
      thresholds,
    );
    expect(headers).toBe(
      'X-Spam: Yes\r\nX-Spam-Score: 7.50\r\nX-Spamd-Result: default: True [7.50 / 15.00];\r\n\tBAYES_SPAM(5.00)[99%];\r\n\tEVIL(2.50)[a_b_c X-Injected: 1]\r\n',
    );
    expect(headers.split('\r\n').filter((line) => /^X-Injected/.test(line))).toEqual([]);
  });
});

describe('header edits', () => {
  const raw = Buffer.from('X-Spam: No\r\nFrom: a@b.test\r\nX-Spamd-Result: default: False\r\n\tfolded\r\nSubject: old\r\n\r\nX-Spam: body text stays\r\n');

  it('removes X-Spam* fields a sender wrote, folded lines included, and leaves the body alone', () => {
    expect(removeSpamHeaders(raw).toString()).toBe('From: a@b.test\r\nSubject: old\r\n\r\nX-Spam: body text stays\r\n');
  });

  it('replaces the Subject, encoding a non-ASCII one as RFC 2047 words', () => {
    expect(replaceSubject(raw, '*** SPAM *** old').toString()).toContain('\r\nSubject: *** SPAM *** old\r\n\r\n');
    const encoded = encodeSubject('*** SPAM *** Grüße');
    expect(encoded).toBe(`=?UTF-8?B?${Buffer.from('*** SPAM *** Grüße').toString('base64')}?=`);
    expect(replaceSubject(Buffer.from('From: a@b.test\r\n\r\nbody'), 'tagged').toString()).toBe('Subject: tagged\r\nFrom: a@b.test\r\n\r\nbody');
  });

  it('keeps encoded words under the 75-character limit for long subjects', () => {
    const words = encodeSubject('ü'.repeat(100)).split('\r\n ');
    expect(words.length).toBeGreaterThan(1);
    expect(words.every((word) => word.length <= 75)).toBe(true);
    const long = encodeSubject(`*** SPAM *** ${'x'.repeat(2000)}`);
    expect(long.split('\r\n').every((line) => line.length < 998)).toBe(true);
  });
});

describe('sending limits', () => {
  it('lets N messages through in an hour, refuses the next with the time the oldest leaves the window', () => {
    let now = 1_000_000;
    const limiter = new SendingRateLimiter((user) => (user === 'app' ? 3 : undefined), () => now);
    expect([1, 2, 3].map(() => limiter.take('app').allowed)).toEqual([true, true, true]);
    now += 60_000;
    expect(limiter.take('app')).toEqual({ allowed: false, limit: 3, retryAt: new Date(1_000_000 + 3_600_000) });
    expect(limiter.take('other').allowed).toBe(true);
    now = 1_000_000 + 3_600_000;
    expect(limiter.take('app').allowed).toBe(true);
  });
});
