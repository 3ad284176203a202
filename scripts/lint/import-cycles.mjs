/**
 * ESLint rule `mxkit/no-import-cycle`: a TypeScript module may not import (type-only imports
 * included) anything that leads back to it. Cycles are how layers blur: once a → b → a exists,
 * neither can be understood, tested or moved alone (docs/architecture.md "Layers").
 *
 * The graph is built once per process from the files on disk under the project's source folders
 * (TypeScript's own `preProcessFile`, which sees `import`, `export … from`, `import()` and
 * `require`); the file being linted is read from the text ESLint hands the rule, so an editor
 * buffer or `eslint --stdin` is judged as written. Only relative specifiers count: packages
 * cannot import us back.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const SOURCE_FOLDERS = ['relay', 'infra', 'bench', 'scripts', 'test'];
const graphs = new Map();

function walk(folder, files) {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const path = join(folder, entry.name);
    if (entry.isDirectory()) walk(path, files);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

function resolveSpecifier(fromFile, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(fromFile), specifier);
  for (const candidate of [base, `${base}.ts`, join(base, 'index.ts'), base.replace(/\.js$/, '.ts')]) {
    if (candidate.endsWith('.ts') && existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** The modules a file's text imports: resolved path and where the specifier stands. */
function importsOf(file, text) {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((entry) => ({ target: resolveSpecifier(file, entry.fileName), specifier: entry.fileName, pos: entry.pos, end: entry.end }))
    .filter((entry) => entry.target !== undefined);
}

function graphFor(root) {
  let graph = graphs.get(root);
  if (graph) return graph;
  graph = new Map();
  for (const folder of SOURCE_FOLDERS) {
    const path = join(root, folder);
    if (!existsSync(path)) continue;
    for (const file of walk(path, [])) graph.set(file, importsOf(file, readFileSync(file, 'utf8')).map((entry) => entry.target));
  }
  graphs.set(root, graph);
  return graph;
}

/** The shortest import path from `start` back to `goal`, or undefined. */
function pathBack(graph, start, goal) {
  const previous = new Map([[start, undefined]]);
  const queue = [start];
  while (queue.length > 0) {
    const current = queue.shift();
    if (current === goal) {
      const path = [];
      for (let node = current; node !== undefined; node = previous.get(node)) path.unshift(node);
      return path;
    }
    for (const next of graph.get(current) ?? []) {
      if (previous.has(next)) continue;
      previous.set(next, current);
      queue.push(next);
    }
  }
  return undefined;
}

export const noImportCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'forbid import cycles between project modules (type-only imports included)' },
    schema: [],
    messages: { cycle: 'import cycle: {{path}} (docs/architecture.md "Layers": move the shared piece down a layer)' },
  },
  create(context) {
    const file = resolve(context.physicalFilename ?? context.filename);
    const root = resolve(context.cwd ?? process.cwd());
    if (!file.endsWith('.ts')) return {};
    return {
      Program() {
        const graph = graphFor(root);
        const text = context.sourceCode.text;
        const seen = new Set();
        for (const entry of importsOf(file, text)) {
          if (seen.has(entry.target)) continue;
          seen.add(entry.target);
          const path = entry.target === file ? [file] : pathBack(graph, entry.target, file);
          if (!path) continue;
          context.report({
            loc: { start: context.sourceCode.getLocFromIndex(entry.pos), end: context.sourceCode.getLocFromIndex(entry.end) },
            messageId: 'cycle',
            data: { path: [file, ...path].map((node) => relative(root, node)).join(' → ') },
          });
        }
      },
    };
  },
};

export default { meta: { name: 'mxkit' }, rules: { 'no-import-cycle': noImportCycle } };
