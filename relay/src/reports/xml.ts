/**
 * A small, strict XML reader for report documents (RFC 7489 appendix C). Elements and their text
 * only: attributes, comments and processing instructions are skipped, namespace prefixes dropped.
 * No DTD is accepted (so no entity expansion, "billion laughs" or external entities); only the
 * five predefined entities and character references are decoded. Element count and depth are
 * capped. Anything not well-formed throws XmlError.
 */

export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

export class XmlError extends Error {
  override name = 'XmlError';
}

const MAX_ELEMENTS = 500_000;
const MAX_DEPTH = 32;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      if (!Number.isFinite(code) || code > 0x10ffff) throw new XmlError(`bad character reference ${whole}`);
      return String.fromCodePoint(code);
    }
    const value = ENTITIES[name];
    if (value === undefined) throw new XmlError(`unknown entity ${whole}`);
    return value;
  });
}

function localName(tag: string): string {
  const name = tag.slice(tag.indexOf(':') + 1);
  if (!/^[A-Za-z_][\w.-]*$/.test(name)) throw new XmlError(`bad element name "${tag.slice(0, 40)}"`);
  return name;
}

/** Index of the `>` that ends a tag starting at `from`, skipping quoted attribute values. */
function tagEnd(text: string, from: number): number {
  let quote: string | undefined;
  for (let index = from; index < text.length; index++) {
    const char = text[index];
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '>') return index;
  }
  throw new XmlError('unterminated tag');
}

export function parseXml(source: string): XmlElement {
  const text = source.replace(/^\uFEFF/, '');
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;
  let position = 0;
  while (position < text.length) {
    const open = text.indexOf('<', position);
    const chunk = text.slice(position, open < 0 ? text.length : open);
    if (stack.length > 0) stack[stack.length - 1].text += decodeText(chunk);
    else if (chunk.trim() !== '') throw new XmlError('text outside the document element');
    if (open < 0) break;
    if (text.startsWith('<!--', open)) {
      const end = text.indexOf('-->', open + 4);
      if (end < 0) throw new XmlError('unterminated comment');
      position = end + 3;
    } else if (text.startsWith('<![CDATA[', open)) {
      const end = text.indexOf(']]>', open + 9);
      if (end < 0 || stack.length === 0) throw new XmlError('bad CDATA section');
      stack[stack.length - 1].text += text.slice(open + 9, end);
      position = end + 3;
    } else if (text.startsWith('<?', open)) {
      const end = text.indexOf('?>', open + 2);
      if (end < 0) throw new XmlError('unterminated processing instruction');
      position = end + 2;
    } else if (text.startsWith('<!', open)) {
      throw new XmlError('DTDs and declarations are not accepted');
    } else if (text[open + 1] === '/') {
      const end = tagEnd(text, open);
      const name = localName(text.slice(open + 2, end).trim());
      const element = stack.pop();
      if (!element || element.name !== name) throw new XmlError(`unexpected </${name}>`);
      position = end + 1;
    } else {
      const end = tagEnd(text, open);
      const inner = text.slice(open + 1, end);
      const selfClosing = inner.endsWith('/');
      const name = localName(inner.replace(/\/$/, '').trim().split(/\s/)[0]);
      if (++elements > MAX_ELEMENTS) throw new XmlError(`more than ${MAX_ELEMENTS} elements`);
      const element: XmlElement = { name, children: [], text: '' };
      if (stack.length > 0) stack[stack.length - 1].children.push(element);
      else if (root) throw new XmlError('more than one document element');
      else root = element;
      if (!selfClosing) {
        stack.push(element);
        if (stack.length > MAX_DEPTH) throw new XmlError(`nested deeper than ${MAX_DEPTH}`);
      }
      position = end + 1;
    }
  }
  if (stack.length > 0) throw new XmlError(`<${stack[stack.length - 1].name}> is not closed`);
  if (!root) throw new XmlError('no document element');
  return root;
}

export function child(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element?.children.find((candidate) => candidate.name === name);
}

export function children(element: XmlElement | undefined, name: string): XmlElement[] {
  return element?.children.filter((candidate) => candidate.name === name) ?? [];
}

/** The trimmed text of a descendant path, e.g. textAt(feedback, 'report_metadata', 'org_name'). */
export function textAt(element: XmlElement | undefined, ...path: string[]): string | undefined {
  let current = element;
  for (const name of path) current = child(current, name);
  const value = current?.text.trim();
  return value === '' ? undefined : value;
}
