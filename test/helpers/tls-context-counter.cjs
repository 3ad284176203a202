// Preloaded into the bundled relay (node --require) by test/cli/bundle-loading.test.ts: counts the
// TLS contexts the relay makes to serve with (those given a private key) and how many of them got
// no CA list, so that Node would have loaded its public root certificates into them
// (relay/src/tls/server-context.ts). Reported on stderr when the process exits. The bundle calls
// createSecureContext through node:tls's exports, as https and tls.Server do, so this sees them all.
const tls = require('node:tls');
const { isMainThread } = require('node:worker_threads');

const original = tls.createSecureContext;
let serving = 0;
let withoutCaList = 0;
tls.createSecureContext = function countingCreateSecureContext(options, ...rest) {
  if (options && options.key !== undefined) {
    serving += 1;
    if (options.ca === undefined) withoutCaList += 1;
  }
  return original.call(this, options, ...rest);
};
if (isMainThread) process.on('exit', () => process.stderr.write(`serving tls contexts: ${serving}, without a CA list: ${withoutCaList}\n`));
