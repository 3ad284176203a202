/**
 * The one From: reader. The intake authorises an authenticated sender's From: with it and the
 * DKIM signer picks its signing domain with it, so the address we check is the address we sign
 * for. Grammar: RFC 5322 3.4 (mailbox, name-addr, angle-addr, addr-spec, group) with RFC 6854's
 * address-list in From and RFC 6532 UTF-8; mailboxes normalised by the one address model.
 *
 * A From: that different readers could read differently is `ambiguous` and must be neither
 * accepted for signing nor signed:
 * - not exactly one From field, or a header section that is not clean fields (header-section.ts);
 * - obsolete syntax (RFC 5322 4.4): routes in angle brackets, CFWS inside an addr-spec, empty
 *   list elements, domain literals; quoted pairs in a local part;
 * - a display name or comment that holds `<` or `>`, before or after RFC 2047 decoding (what a
 *   naive reader takes for the address), an encoded word in an addr-spec (RFC 2047 5(3));
 * - not valid UTF-8, nested groups, no mailbox at all, more than MAX_MAILBOXES mailboxes;
 * - an address the address model refuses (fullwidth, invisible characters, ...).
 */
import { normalizeAddress, type AddressProblem, type Mailbox } from './address';
import { decodeHeaderWords, readableHeaderWords, UnreadableEncodedWord } from './header-words';
import { parseHeaderSection } from './header-section';
import { lexStructured, LexError, type Token } from './structured-lexer';

/** A mailbox of From with the display name a reader shows for it (RFC 2047 words decoded), if any. */
export interface FromMailbox extends Mailbox {
  displayName?: string;
}

export type FromField = { kind: 'absent' } | { kind: 'mailboxes'; mailboxes: FromMailbox[] } | { kind: 'ambiguous'; problem: string };

export interface FromOptions {
  /** The transaction used SMTPUTF8: non-ASCII local parts allowed. */
  utf8: boolean;
}

const MAX_MAILBOXES = 20;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

class Ambiguous extends Error {
  override name = 'Ambiguous';
}

/** Reads the From: of a header section (latin1 text, see header-section.ts). */
export function readFrom(headerSection: string, options: FromOptions): FromField {
  const section = parseHeaderSection(headerSection);
  if (!section.ok) return { kind: 'ambiguous', problem: section.problem };
  const fields = section.fields.filter((field) => field.name === 'from');
  if (fields.length === 0) return { kind: 'absent' };
  if (fields.length > 1) return { kind: 'ambiguous', problem: `${fields.length} From fields` };
  return readFromValue(fields[0].value, options);
}

/** Reads one From field's value (latin1 text, folding kept), as readFrom does for the field. */
export function readFromValue(value: string, options: FromOptions): FromField {
  try {
    return { kind: 'mailboxes', mailboxes: parseFromValue(value, options) };
  } catch (error) {
    if (error instanceof Ambiguous || error instanceof LexError || error instanceof UnreadableEncodedWord) {
      return { kind: 'ambiguous', problem: error.message };
    }
    throw error;
  }
}

function parseFromValue(raw: string, options: FromOptions): FromMailbox[] {
  let text: string;
  try {
    text = utf8Decoder.decode(Buffer.from(raw, 'latin1'));
  } catch {
    throw new Ambiguous('From: is not valid UTF-8');
  }
  const unfolded = text.replace(/\r\n(?=[ \t])/g, '');
  // A reader that decodes encoded words anywhere (leniently, even across "." in a phrase) must
  // not find an angle bracket that the raw text does not have.
  if (angleBrackets(readableHeaderWords(unfolded)) !== angleBrackets(unfolded)) throw new Ambiguous('an encoded word holds an angle bracket');
  const { tokens, comments } = lexStructured(unfolded);
  for (const comment of comments) checkDisplayText(comment, 'a comment');
  const mailboxes = new AddressListParser(tokens, options).parse();
  if (mailboxes.length === 0) throw new Ambiguous('From: holds no mailbox');
  if (mailboxes.length > MAX_MAILBOXES) throw new Ambiguous(`From: holds more than ${MAX_MAILBOXES} mailboxes`);
  return mailboxes;
}

function angleBrackets(text: string): number {
  return text.replace(/[^<>]/g, '').length;
}

/** Text a reader shows (display names, comments) must not look like an angle-bracketed address. */
function checkDisplayText(text: string, where: string): void {
  if (/[<>]/.test(text) || /[<>]/.test(readableHeaderWords(text))) throw new Ambiguous(`${where} holds an angle bracket`);
}

const PROBLEM_TEXT: Record<AddressProblem, string> = {
  syntax: 'is not a plain address',
  compatibility_form: 'uses compatibility characters (fullwidth or similar)',
  invisible_character: 'holds an invisible character',
  needs_smtputf8: 'is non-ASCII without SMTPUTF8',
};

class AddressListParser {
  private position = 0;
  private readonly mailboxes: FromMailbox[] = [];

  constructor(
    private readonly tokens: readonly Token[],
    private readonly options: FromOptions,
  ) {}

  parse(): FromMailbox[] {
    if (this.tokens.length === 0) return [];
    for (;;) {
      this.address();
      const next = this.peek();
      if (next === undefined) return this.mailboxes;
      if (!this.isSpecial(next, ',')) throw new Ambiguous(`unexpected ${describe(next)} after an address`);
      this.position++;
      if (this.peek() === undefined || this.isSpecial(this.peek(), ',')) throw new Ambiguous('an empty element in the address list');
    }
  }

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.position + offset];
  }

  private isSpecial(token: Token | undefined, text: string): boolean {
    return token?.type === 'special' && token.text === text;
  }

  private address(): void {
    const start = this.position;
    const phrase = this.phrase();
    const next = this.peek();
    if (this.isSpecial(next, '<')) return this.angleAddress(phrase);
    if (this.isSpecial(next, ':') && phrase.length > 0) return this.group();
    if (this.isSpecial(next, '@')) {
      this.position = start;
      return this.addSpec();
    }
    throw new Ambiguous(next === undefined ? 'a display name without an address' : `unexpected ${describe(next)}`);
  }

  /** display-name = phrase (words, and obs-phrase's "." after the first word, common in names). */
  private phrase(): Token[] {
    const words: Token[] = [];
    for (let token = this.peek(); token !== undefined; token = this.peek()) {
      const isWord = token.type !== 'special' || (token.text === '.' && words.length > 0);
      if (!isWord) break;
      if (token.type !== 'special') checkDisplayText(token.text, 'the display name');
      words.push(token);
      this.position++;
    }
    return words;
  }

  private group(): void {
    this.position++; // ':'
    if (this.isSpecial(this.peek(), ';')) {
      this.position++;
      return;
    }
    for (;;) {
      const before = this.mailboxes.length;
      const start = this.position;
      const phrase = this.phrase();
      if (this.isSpecial(this.peek(), ':')) throw new Ambiguous('a group inside a group');
      if (this.isSpecial(this.peek(), '<')) this.angleAddress(phrase);
      else {
        this.position = start;
        this.addSpec();
      }
      if (this.mailboxes.length === before) throw new Ambiguous('an empty element in a group');
      const next = this.peek();
      this.position++;
      if (this.isSpecial(next, ';')) return;
      if (!this.isSpecial(next, ',')) throw new Ambiguous(next ? `unexpected ${describe(next)} in a group` : 'a group without its ";"');
    }
  }

  private angleAddress(phrase: readonly Token[]): void {
    this.position++; // '<'
    if (this.isSpecial(this.peek(), '@')) throw new Ambiguous('a source route in angle brackets (obsolete syntax)');
    this.addSpec();
    if (!this.isSpecial(this.peek(), '>')) throw new Ambiguous('an angle-bracketed address without its ">"');
    this.position++;
    const name = displayName(phrase);
    if (name) this.mailboxes[this.mailboxes.length - 1].displayName = name;
  }

  /** addr-spec without CFWS inside it: `local@domain`, local a dot-atom or one quoted string. */
  private addSpec(): void {
    let local = '';
    const first = this.peek();
    if (first?.type === 'quoted') {
      if (first.hasQuotedPair) throw new Ambiguous('a quoted pair in a local part');
      local = `"${first.text}"`;
      this.position++;
    } else {
      local = this.dotAtom('local part');
    }
    const at = this.peek();
    if (!this.isSpecial(at, '@')) throw new Ambiguous(at ? `unexpected ${describe(at)} in an address` : 'an address without "@"');
    if (at?.spaceBefore) throw new Ambiguous('a space or comment inside an address (obsolete syntax)');
    this.position++;
    const domainStart = this.peek();
    if (this.isSpecial(domainStart, '[')) throw new Ambiguous('a domain literal');
    if (domainStart?.spaceBefore) throw new Ambiguous('a space or comment inside an address (obsolete syntax)');
    const domain = this.dotAtom('domain');
    if (/=\?.*\?=/.test(local) || /=\?/.test(domain)) throw new Ambiguous('an encoded word in an address (RFC 2047 5)');
    const normalized = normalizeAddress(`${local}@${domain}`, this.options);
    if (!normalized.ok) throw new Ambiguous(`the address ${local}@${domain} ${PROBLEM_TEXT[normalized.problem]}`);
    this.mailboxes.push(normalized.mailbox);
  }

  /** dot-atom-text: atoms joined by "." with nothing between them (CFWS there is obs-local-part). */
  private dotAtom(what: string): string {
    const atoms: string[] = [];
    for (;;) {
      const atom = this.peek();
      if (atom?.type !== 'atom') throw new Ambiguous(`a ${what} that is not a dot-atom`);
      if (atoms.length > 0 && atom.spaceBefore) throw new Ambiguous('a space or comment inside an address (obsolete syntax)');
      atoms.push(atom.text);
      this.position++;
      const dot = this.peek();
      if (!this.isSpecial(dot, '.')) return atoms.join('.');
      if (dot?.spaceBefore) throw new Ambiguous('a space or comment inside an address (obsolete syntax)');
      this.position++;
    }
  }
}

/** The phrase as a reader shows it: words as written (quotes removed), encoded words decoded. */
function displayName(phrase: readonly Token[]): string {
  const text = phrase.map((token, index) => `${index > 0 && token.spaceBefore ? ' ' : ''}${token.text}`).join('');
  return decodeHeaderWords(text).trim();
}

function describe(token: Token): string {
  return token.type === 'special' ? `"${token.text}"` : token.type === 'quoted' ? 'a quoted string' : `"${token.text}"`;
}
