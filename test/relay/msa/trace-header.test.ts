/**
 * The Received line (RFC 5321 4.4) and the Message-ID domain, without sockets: every protocol name
 * of RFC 3848 and RFC 6531 3.7.4.1, address literals for IPv4, IPv4-mapped and IPv6 clients, and
 * what the `for <...>` clause keeps with and without SMTPUTF8.
 */
import type { SMTPServerSession } from 'smtp-server';
import { sendingDomain } from '../../../relay/src/intake/msa/sending-domain';
import { addressLiteral, protocolName, receivedHeader } from '../../../relay/src/intake/trace-header';

type TraceSession = Pick<SMTPServerSession, 'secure' | 'user' | 'envelope' | 'remoteAddress' | 'hostNameAppearsAs' | 'tlsOptions'>;

function session(overrides: { secure?: boolean; user?: string; smtpUtf8?: boolean; remoteAddress?: string } = {}): SMTPServerSession {
  const traced: TraceSession = {
    secure: overrides.secure ?? false,
    user: overrides.user,
    envelope: { mailFrom: false, rcptTo: [], ...(overrides.smtpUtf8 ? { smtpUtf8: true } : {}) } as SMTPServerSession['envelope'],
    remoteAddress: overrides.remoteAddress ?? '192.0.2.7',
    hostNameAppearsAs: 'client.example.test',
    tlsOptions: (overrides.secure ? { name: 'TLS_AES_256_GCM_SHA384', standardName: 'TLS_AES_256_GCM_SHA384', version: 'TLSv1.3' } : false) as SMTPServerSession['tlsOptions'],
  };
  return traced as SMTPServerSession;
}

describe('the protocol the Received line names', () => {
  const cases: Array<[boolean, boolean, boolean, string]> = [
    [false, false, false, 'ESMTP'],
    [true, false, false, 'ESMTPS'],
    [false, true, false, 'ESMTPA'],
    [true, true, false, 'ESMTPSA'],
    [false, false, true, 'UTF8SMTP'],
    [true, false, true, 'UTF8SMTPS'],
    [false, true, true, 'UTF8SMTPA'],
    [true, true, true, 'UTF8SMTPSA'],
  ];
  it.each(cases)('secure %s, authenticated %s, SMTPUTF8 %s: %s', (secure, authenticated, smtpUtf8, name) => {
    expect(protocolName(session({ secure, smtpUtf8, ...(authenticated ? { user: 'app' } : {}) }))).toBe(name);
  });
});

describe('the client address in the Received line', () => {
  it('writes IPv4 as [a.b.c.d], an IPv4-mapped IPv6 address as its IPv4 address, and IPv6 as [IPv6:...]', () => {
    expect(addressLiteral('192.0.2.7')).toBe('[192.0.2.7]');
    expect(addressLiteral('::ffff:192.0.2.7')).toBe('[192.0.2.7]');
    expect(addressLiteral('::1')).toBe('[IPv6:::1]');
    expect(addressLiteral('2001:db8::25')).toBe('[IPv6:2001:db8::25]');
  });

  it('puts the literal after the HELO name', () => {
    expect(receivedHeader(session({ remoteAddress: '2001:db8::25' }), 'mail.example.test', 'Q1', [])).toMatch(/^Received: from client\.example\.test \(\[IPv6:2001:db8::25\]\)\r\n\tby mail\.example\.test \(mxkit\) with ESMTP id Q1;\r\n/);
  });
});

describe('the for <...> clause', () => {
  const now = new Date('2030-01-01T10:00:00Z');

  it('keeps a UTF-8 recipient under SMTPUTF8, and never a character that would end the clause', () => {
    expect(receivedHeader(session({ secure: true, user: 'app', smtpUtf8: true }), 'mail.example.test', 'Q1', ['jörg@bücher.test'], now)).toContain('with UTF8SMTPSA (TLSv1.3 TLS_AES_256_GCM_SHA384) id Q1\r\n\tfor <jörg@bücher.test>;\r\n');
    expect(receivedHeader(session({ smtpUtf8: true }), 'mail.example.test', 'Q1', ['a>b\r\nX: y@example.test'], now)).toContain('\tfor <a?b??X:?y@example.test>;\r\n');
  });

  it('writes non-ASCII as ? without SMTPUTF8', () => {
    expect(receivedHeader(session(), 'mail.example.test', 'Q1', ['jörg@example.test'], now)).toContain('\tfor <j?rg@example.test>;\r\n');
  });

  it('is left out for several recipients, so no Bcc recipient is named to the others', () => {
    expect(receivedHeader(session(), 'mail.example.test', 'Q1', ['a@example.test', 'b@example.test'], now)).not.toContain('for <');
  });
});

describe('the domain of the Message-ID the submission agent adds', () => {
  const domains = ['example.test', 'other.test'];

  it('is the From: domain when it is one of ours, or under one', () => {
    expect(sendingDomain('From: A <a@Other.Test>\r\n\r\n', 'bounce@example.test', domains, 'mail.example.test')).toBe('other.test');
    expect(sendingDomain('From: a@news.example.test\r\n\r\n', '', domains, 'mail.example.test')).toBe('news.example.test');
  });

  it("falls back to the envelope sender's domain, then to the relay's host name, never to a foreign domain", () => {
    expect(sendingDomain('From: a@foreign.test\r\n\r\n', 'app@example.test', domains, 'mail.example.test')).toBe('example.test');
    expect(sendingDomain('Subject: no from\r\n\r\n', 'app@foreign.test', domains, 'mail.example.test')).toBe('mail.example.test');
    expect(sendingDomain('From: a@notexample.test\r\n\r\n', '', domains, 'mail.example.test')).toBe('mail.example.test');
  });
});
