/**
 * Tokens of an RFC 5322 structured field body (3.2: atoms, quoted strings, specials, CFWS), for
 * the From parser. Comments nest and take quoted pairs (3.2.2); they are dropped from the token
 * stream but kept (unescaped) so the caller can inspect them. Whitespace and comments before a
 * token are recorded as `spaceBefore`, so the parser can refuse CFWS where only obsolete syntax
 * allows it. The text is already unfolded and decoded (UTF-8, RFC 6532).
 */

export type Special = '<' | '>' | '@' | ',' | ':' | ';' | '.' | '[' | ']';

export type Token =
  | { type: 'atom'; text: string; spaceBefore: boolean }
  | { type: 'quoted'; text: string; hasQuotedPair: boolean; spaceBefore: boolean }
  | { type: 'special'; text: Special; spaceBefore: boolean };

export interface Lexed {
  tokens: Token[];
  comments: string[];
}

export class LexError extends Error {
  override name = 'LexError';
}

/** Deeper comment nesting than this is refused: no legitimate From needs it. */
const MAX_COMMENT_DEPTH = 4;
const SPECIALS = new Set<string>(['<', '>', '@', ',', ':', ';', '.', '[', ']']);
// RFC 5322 3.2.3 atext, plus UTF8-non-ascii (RFC 6532 3.2).
const ATEXT = /[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\u{10FFFF}]/u;
// eslint-disable-next-line no-control-regex -- controls (but HTAB) are what is refused here
const FORBIDDEN = /[\x00-\x08\x0a-\x1f\x7f]/;

export function lexStructured(text: string): Lexed {
  if (FORBIDDEN.test(text)) throw new LexError('a control character or a bare line break');
  const tokens: Token[] = [];
  const comments: string[] = [];
  const characters = [...text];
  let position = 0;
  let spaceBefore = false;
  while (position < characters.length) {
    const character = characters[position];
    if (character === ' ' || character === '\t') {
      spaceBefore = true;
      position++;
    } else if (character === '(') {
      const [comment, next] = readComment(characters, position);
      comments.push(comment);
      spaceBefore = true;
      position = next;
    } else if (character === '"') {
      const [content, hasQuotedPair, next] = readQuoted(characters, position);
      tokens.push({ type: 'quoted', text: content, hasQuotedPair, spaceBefore });
      spaceBefore = false;
      position = next;
    } else if (SPECIALS.has(character)) {
      tokens.push({ type: 'special', text: character as Special, spaceBefore });
      spaceBefore = false;
      position++;
    } else if (ATEXT.test(character)) {
      let end = position;
      while (end < characters.length && ATEXT.test(characters[end])) end++;
      tokens.push({ type: 'atom', text: characters.slice(position, end).join(''), spaceBefore });
      spaceBefore = false;
      position = end;
    } else {
      throw new LexError(`the character ${JSON.stringify(character)} outside a quoted string or comment`);
    }
  }
  return { tokens, comments };
}

function readComment(characters: string[], start: number): [string, number] {
  let depth = 0;
  let content = '';
  for (let position = start; position < characters.length; position++) {
    const character = characters[position];
    if (character === '\\') {
      if (position + 1 >= characters.length) break;
      content += characters[++position];
    } else if (character === '(') {
      depth++;
      if (depth > MAX_COMMENT_DEPTH) throw new LexError('comments nested too deeply');
      if (depth > 1) content += character;
    } else if (character === ')') {
      depth--;
      if (depth === 0) return [content, position + 1];
      content += character;
    } else {
      content += character;
    }
  }
  throw new LexError('an unterminated comment');
}

function readQuoted(characters: string[], start: number): [string, boolean, number] {
  let content = '';
  let hasQuotedPair = false;
  for (let position = start + 1; position < characters.length; position++) {
    const character = characters[position];
    if (character === '\\') {
      if (position + 1 >= characters.length) break;
      hasQuotedPair = true;
      content += characters[++position];
    } else if (character === '"') {
      return [content, hasQuotedPair, position + 1];
    } else {
      content += character;
    }
  }
  throw new LexError('an unterminated quoted string');
}
