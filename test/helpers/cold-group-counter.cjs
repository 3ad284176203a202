// Preloaded into the bundled relay (node --require) by test/cli/bundle-loading.test.ts: records
// which cold groups of dist/mxkit.js are evaluated. Each group is evaluated once, by one
// `new Function('module', 'exports', 'require', source)` over its source
// (scripts/bundle-excludes.mjs embedColdPackages); the names are told apart by what each carries.
const evaluated = [];
const NativeFunction = globalThis.Function;
globalThis.Function = new Proxy(NativeFunction, {
  construct(target, args, newTarget) {
    const source = String(args[args.length - 1] ?? '');
    if (source.length > 100000) evaluated.push(source.includes('acmeSettings') ? 'acme' : source.includes('dmarc') ? 'mail' : 'unknown');
    return Reflect.construct(target, args, newTarget === globalThis.Function ? target : newTarget);
  },
});
process.on('exit', () => process.stderr.write(`cold groups evaluated: ${evaluated.length === 0 ? 'none' : evaluated.join(',')}\n`));
