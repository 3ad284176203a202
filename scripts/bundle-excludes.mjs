// How the bundle leaves out what the relay never runs, and carries each package's code once.
import { build as esbuild } from 'esbuild';
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';

// Parts of dependencies the relay never runs, replaced in the bundle by a stub that throws if it
// is ever called (so a future caller fails loudly in tests, never silently).
//
// - mailauth's BIMI (lib/bimi, lib/bimi/validate-svg): `authenticate()` requires it at load time,
//   but every call in relay/src passes `disableBimi: true` (BIMI is a receiving mailbox's logo
//   feature, nothing a relay decides on). It pulls in undici (~0.5 MB minified), @postalsys/vmc
//   and fast-xml-parser.
const excluded = [
  { importer: /node_modules\/mailauth\/lib\/mailauth\.js$/, path: /^\.\/bimi(\/validate-svg)?$/, name: 'mailauth BIMI' },
];

// The delivery worker (relay/src/delivery/transmit-worker-main.ts) only DKIM-signs (the relay's own
// signer, dkim-sign.ts) and speaks SMTP. The main thread chooses the signers from the From (the one
// From reader, which decodes encoded words in any charset with libmime), so the worker loads
// neither the From reader nor libmime's charset tables -- and no charset is unreadable there,
// since none is read there. Nothing of libmime is stubbed: should the worker ever import it, it
// comes whole (the bundle's size shows it). mailauth's verifying-side libraries stay out of the
// worker should anything pull mailauth's tools in: tldts (DMARC alignment) and joi (DKIM records).
const workerExcluded = [
  { importer: /node_modules\/mailauth\/lib\/tools\.js$/, path: /^tldts$/, name: 'tldts (DMARC alignment)' },
  // tools.js builds one schema when it loads (Joi.string().base64(...)): that chain must work.
  { importer: /node_modules\/mailauth\/lib\/tools\.js$/, path: /^joi$/, name: 'joi (DKIM record validation)', shape: 'module.exports = { string: () => ({ base64: () => ({ validate: unavailable }) }) };' },
];

/** Replaces the matching imports by a stub that throws when used (`shape`: what it must offer at load). */
function excludeParts(rules) {
  return {
    name: 'exclude-unused-parts',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        const rule = rules.find((candidate) => candidate.path.test(args.path) && candidate.importer.test(args.importer));
        return rule ? { path: rule.name, namespace: 'excluded' } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'excluded' }, (args) => ({
        loader: 'js',
        contents: `const unavailable = () => { throw new Error(${JSON.stringify(`${args.path} is not part of the mxkit bundle (scripts/bundle-excludes.mjs)`)}); };
${rules.find((rule) => rule.name === args.path)?.shape ?? "module.exports = new Proxy({}, { get: (_target, key) => (key === '__esModule' ? false : unavailable) });"}`,
      }));
    },
  };
}

export const excludeUnusedParts = excludeParts(excluded);
export const excludeFromWorker = excludeParts([...excluded, ...workerExcluded]);

/**
 * npm cannot always hoist: when two versions of a package are wanted, it nests a copy of the
 * other version under every package that asks for it (here eight identical copies of
 * @peculiar/asn1-schema 2.11.1 and seven of @peculiar/asn1-x509, ~0.4 MB minified). A bundler
 * would include each copy. This plugin sends every import of a package to one copy of the same
 * name and version (from package-lock.json), so identical code is bundled once. Different
 * versions stay separate.
 */
export function dedupeIdenticalCopies(root = process.cwd()) {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  // "node_modules/a/node_modules/b" -> canonical folder of the same name@version.
  const canonical = new Map();
  const byRelease = new Map();
  for (const [folder, entry] of Object.entries(lock.packages ?? {})) {
    if (!folder.includes('node_modules/') || !entry.version || entry.link) continue;
    const name = folder.slice(folder.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const release = `${name}@${entry.version}`;
    byRelease.set(release, [...(byRelease.get(release) ?? []), folder]);
  }
  for (const folders of byRelease.values()) {
    if (folders.length < 2) continue;
    const [first] = [...folders].sort((a, b) => a.length - b.length || a.localeCompare(b));
    for (const folder of folders) if (folder !== first) canonical.set(resolve(root, folder) + sep, resolve(root, first) + sep);
  }
  return {
    name: 'dedupe-identical-copies',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData?.deduping || args.kind === 'entry-point') return undefined;
        const result = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { deduping: true } });
        if (result.errors.length > 0 || !result.path) return undefined;
        let path = result.path;
        for (const [copy, target] of canonical) if (path.startsWith(copy)) path = target + path.slice(copy.length);
        return { path, external: result.external, sideEffects: result.sideEffects, namespace: result.namespace, suffix: result.suffix };
      });
    },
  };
}

/**
 * Packages the relay needs only on some paths are bundled on their own, in groups, and carried in
 * dist/mxkit.js as compressed strings (packChunk); a group is unpacked and evaluated the first time
 * one of its packages is required. A string costs V8 next to nothing to parse at start, while code
 * is parsed whatever runs: this keeps about 2 MB of code out of every start (docs/benchmarks.md,
 * issue 17).
 *
 * - `acme`: acme-client with its HTTP and X.509 libraries (only with tls.acme), selfsigned (a
 *   stand-in certificate; `mxkit local`). One group, so what they share (@peculiar/x509, asn1js)
 *   is carried once, and acme-client keeps one instance (its axios defaults are patched).
 * - `mail`: mailauth's verifiers (inbound mail on the mx listener, the ARC re-seal, `mxkit check`
 *   and `mxkit local`), libmime with its charset tables (iconv-lite, encoding-japanese: the first
 *   RFC 2047 encoded word) and tldts (the public suffix list). mailauth's MTA-STS module stays in
 *   the main bundle: delivery uses it from the start.
 *
 * Each specifier keeps one module in the main bundle standing for it; packages are stateless here
 * except acme-client, which is only in its group.
 */
export const COLD_GROUPS = {
  acme: ['acme-client', 'selfsigned'],
  mail: ['mailauth', 'mailauth/lib/spf', 'libmime', 'tldts'],
};

/**
 * A group's code as the bundle carries it: brotli at its best quality, then base64 (~0.7 MB for
 * ~2.3 MB of code). Carried as plain text it cost ~35 ms of every start on the bench machine
 * (reading and decoding 1.6 MB more of the file: issue 17 round 8); unpacking costs ~10 ms, once,
 * when the group is first needed.
 */
function packChunk(source) {
  const code = Buffer.from(source);
  return brotliCompressSync(code, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: zlibConstants.BROTLI_MAX_QUALITY, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: code.length } }).toString('base64');
}

export function embedColdPackages(common, groups = COLD_GROUPS) {
  const groupOf = new Map(Object.entries(groups).flatMap(([group, specifiers]) => specifiers.map((specifier) => [specifier, group])));
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const filter = new RegExp(`^(${[...groupOf.keys()].map(escape).join('|')})$`);
  const chunks = new Map();
  const chunkSource = (group) => {
    if (!chunks.has(group)) {
      const specifiers = groups[group];
      chunks.set(
        group,
        esbuild({
          ...common,
          stdin: { contents: `module.exports = { ${specifiers.map((name) => `${JSON.stringify(name)}: require(${JSON.stringify(name)})`).join(', ')} };`, resolveDir: process.cwd(), loader: 'js' },
          write: false,
          outfile: `cold-${group}.js`,
          metafile: false,
        }).then((result) => result.outputFiles[0].text),
      );
    }
    return chunks.get(group);
  };
  return {
    name: 'embed-cold-packages',
    setup(build) {
      build.onResolve({ filter }, (args) => (args.namespace === 'cold' ? undefined : { path: args.path, namespace: 'cold' }));
      build.onResolve({ filter: /^cold-chunk:/ }, (args) => ({ path: args.path, namespace: 'cold' }));
      build.onLoad({ filter: /.*/, namespace: 'cold' }, async (args) => {
        if (args.path.startsWith('cold-chunk:')) {
          // Evaluated once, on first use, as a CommonJS module of its own.
          const packed = packChunk(await chunkSource(args.path.slice('cold-chunk:'.length)));
          return {
            loader: 'js',
            contents: `const source = require('node:zlib').brotliDecompressSync(Buffer.from(${JSON.stringify(packed)}, 'base64')).toString();
const chunk = { exports: {} };
new Function('module', 'exports', 'require', source)(chunk, chunk.exports, require);
module.exports = chunk.exports;`,
          };
        }
        return { loader: 'js', contents: `module.exports = require(${JSON.stringify(`cold-chunk:${groupOf.get(args.path)}`)})[${JSON.stringify(args.path)}];` };
      });
    },
  };
}
