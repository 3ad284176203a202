/**
 * Every code comment that points at a document points at one in the repository
 * (docs/architecture.md): a `docs/….md` path exists, a quoted section after it (`docs/deploy.md
 * "First day"`) is one of its headings, and nothing points outside the repository (a design note,
 * a review, ../shared/).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SOURCES = ['relay', 'infra', 'bench', 'scripts', 'test'];

function files(folder: string, found: string[] = []): string[] {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(folder, entry.name);
    if (entry.isDirectory()) files(path, found);
    else if (/\.(ts|mjs)$/.test(entry.name)) found.push(path);
  }
  return found;
}

const sources = SOURCES.flatMap((folder) => files(join(ROOT, folder))).map((path) => ({ file: relative(ROOT, path), text: readFileSync(path, 'utf8') }));

function headings(doc: string): string[] {
  return readFileSync(join(ROOT, doc), 'utf8')
    .split('\n')
    .filter((line) => /^#{1,6} /.test(line))
    .map((line) => line.replace(/^#+ /, '').toLowerCase());
}

describe('references from code to documents', () => {
  const references = sources.flatMap(({ file, text }) =>
    [...text.matchAll(/\b((?:docs\/[\w/.-]+\.(?:md|yml))|README(?:\.md)?)(?: section)?(?:,? "([^"\n]+)")?/g)].map((match) => ({ file, doc: match[1] === 'README' ? 'README.md' : match[1], section: match[2] })),
  );

  test('there are some (the scan works)', () => {
    expect(references.length).toBeGreaterThan(20);
  });

  test('name documents that exist', () => {
    expect(references.filter(({ doc }) => !existsSync(join(ROOT, doc)))).toEqual([]);
  });

  test('name sections their documents have', () => {
    const missing = references.filter(({ doc, section }) => section !== undefined && doc.endsWith('.md') && existsSync(join(ROOT, doc)) && !headings(doc).some((heading) => heading.includes(section.toLowerCase())));
    expect(missing).toEqual([]);
  });

  test('never point outside the repository', () => {
    const outside = sources.filter(({ file }) => file !== relative(ROOT, __filename)).flatMap(({ file, text }) => [...text.matchAll(/\.\.\/shared\/|(?<!docs\/[\w-]*)\bdesign\.md\b|security review|peers\.md/g)].map((match) => `${file}: ${match[0]}`));
    expect(outside).toEqual([]);
  });
});
