/**
 * The delivery worker's code as JavaScript source, put here by the build (scripts/build.mjs
 * bundles transmit-worker-main.ts on its own and defines it into dist/mxkit.js): the worker runs
 * only what it needs -- the signer and the SMTP client -- not a second copy of the whole relay,
 * which would cost it some 50 MiB more. Undefined when running from the TypeScript sources.
 */
declare const __MXKIT_TRANSMIT_WORKER__: string | undefined;

export const TRANSMIT_WORKER_SOURCE: string | undefined = typeof __MXKIT_TRANSMIT_WORKER__ === 'string' ? __MXKIT_TRANSMIT_WORKER__ : undefined;
