import { normalizeAddress, normalizeDomain } from '../../../relay/src/mail/address';
import { addressMatches, findRoute } from '../../../relay/src/mail/address-match';
import { parseRelayConfig } from '../../../relay/src/config/schema';

describe('normalizeAddress', () => {
  it.each([
    ['info@example.test', false, 'info@example.test'],
    ['Info@EXAMPLE.Test', false, 'Info@example.test'],
    ['"info"@example.test', false, 'info@example.test'],
    ['a.b+tag@example.test', false, 'a.b+tag@example.test'],
    ['x@bücher.example', false, 'x@xn--bcher-kva.example'],
    ['x@BÜCHER.example', false, 'x@xn--bcher-kva.example'],
    ['x@bu\u0308cher.example', false, 'x@xn--bcher-kva.example'],
    ['x@XN--BCHER-KVA.example', false, 'x@xn--bcher-kva.example'],
    ['x@faß.de', false, 'x@xn--fa-hia.de'],
    ['café@example.test', true, 'café@example.test'],
    ['cafe\u0301@example.test', true, 'café@example.test'],
  ])('normalises %s (SMTPUTF8 %s) to %s', (raw, utf8, expected) => {
    expect(normalizeAddress(raw, { utf8 })).toMatchObject({ ok: true, address: expected });
  });

  it.each([
    ['info@ｅｘａｍｐｌｅ.test', 'compatibility_form'],
    ['info@example．test', 'compatibility_form'],
    ['info@Ⅸ.test', 'compatibility_form'],
    ['info@ﬁ.test', 'compatibility_form'],
    ['ｉｎｆｏ@example.test', 'compatibility_form'],
    ['info@ex\u00adample.test', 'invisible_character'],
    ['in\u00adfo@example.test', 'invisible_character'],
    ['info@exam\u200bple.test', 'invisible_character'],
    ['in\u202efo@example.test', 'invisible_character'],
    ['info@xn--mi7chab1aes7c.test', 'syntax'],
    ['info@xn--example-mka.test', 'syntax'],
    ['info@xn--example-.test', 'syntax'],
    ['info@xn--zz.test', 'syntax'],
    ['info@example.test.', 'syntax'],
    ['info@example', 'syntax'],
    ['info@127.0.0.1', 'syntax'],
    ['info@[127.0.0.1]', 'syntax'],
    ['a%b@example.test', 'syntax'],
    ['a!b@example.test', 'syntax'],
    ['"a b"@example.test', 'syntax'],
    ['"a\\b"@example.test', 'syntax'],
    ['"a@b"@example.test', 'syntax'],
    ['.a@example.test', 'syntax'],
    ['a..b@example.test', 'syntax'],
    [`${'a'.repeat(65)}@example.test`, 'syntax'],
    ['@example.test', 'syntax'],
  ])('refuses %s (%s)', (raw, problem) => {
    expect(normalizeAddress(raw, { utf8: true })).toEqual({ ok: false, problem });
  });

  it('refuses a non-ASCII local part without SMTPUTF8, but converts a U-label domain', () => {
    expect(normalizeAddress('café@example.test', { utf8: false })).toEqual({ ok: false, problem: 'needs_smtputf8' });
    expect(normalizeAddress('cafe@bücher.example', { utf8: false })).toMatchObject({ ok: true });
  });

  it('gives every spelling of one domain the same value', () => {
    const spellings = ['bücher.example', 'BÜCHER.EXAMPLE', 'xn--bcher-kva.example', 'XN--BCHER-KVA.example', 'bu\u0308cher.example'];
    expect(new Set(spellings.map((spelling) => normalizeDomain(spelling)))).toEqual(new Set(['xn--bcher-kva.example']));
  });
});

describe('the matcher and the config', () => {
  const config = parseRelayConfig({
    hostname: 'mail.example.test',
    domains: ['Example.Test', 'BÜCHER.example'],
    listen: {},
    users: [{ username: 'u', passwordHash: '$scrypt$x', allowedFrom: ['*@Bücher.Example', 'Boss@EXAMPLE.test'] }],
    routes: [
      { match: 'info@example.test', forward: ['a@elsewhere.test'] },
      { match: '*@bücher.example', forward: ['b@elsewhere.test'] },
      { match: 'CAFÉ@xn--bcher-kva.example', forward: ['c@elsewhere.test'] },
    ],
    spoolDir: '/tmp/x',
  });

  it('stores domains and patterns in the one normalised form', () => {
    expect(config.domains).toEqual(['example.test', 'xn--bcher-kva.example']);
    expect(config.users[0].allowedFrom).toEqual(['*@xn--bcher-kva.example', 'Boss@example.test']);
    expect(config.routes.map((route) => route.match)).toEqual(['info@example.test', '*@xn--bcher-kva.example', 'CAFÉ@xn--bcher-kva.example']);
  });

  it('matches local parts without regard to case and prefers an exact route', () => {
    const mailbox = (raw: string) => {
      const normalized = normalizeAddress(raw, { utf8: true });
      if (!normalized.ok) throw new Error(raw);
      return normalized.mailbox;
    };
    expect(findRoute(config.routes, mailbox('café@BÜCHER.example'))?.forward).toEqual(['c@elsewhere.test']);
    expect(findRoute(config.routes, mailbox('other@bücher.example'))?.forward).toEqual(['b@elsewhere.test']);
    expect(addressMatches('Boss@example.test', mailbox('boss@EXAMPLE.TEST'))).toBe(true);
    expect(addressMatches('Boss@example.test', mailbox('boss@example.test.example'))).toBe(false);
  });

  it('names the field of a pattern the model refuses', () => {
    expect(() => parseRelayConfig({ hostname: 'mail.example.test', domains: ['ｅｘａｍｐｌｅ.test'], listen: {}, spoolDir: '/tmp/x' })).toThrow('domains[0]: must be a DNS name');
    expect(() =>
      parseRelayConfig({ hostname: 'mail.example.test', domains: ['example.test'], listen: {}, spoolDir: '/tmp/x', routes: [{ match: 'in\u00adfo@example.test', forward: ['a@b.test'] }] }),
    ).toThrow('routes[0].match: must be an address');
  });
});
