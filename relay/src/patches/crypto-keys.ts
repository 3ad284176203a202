/**
 * node:crypto: the keys we sign with, parsed once (a patch of crypto.createPrivateKey; see
 * index.ts for how patches are checked and installed).
 */
import crypto, { type KeyObject } from 'node:crypto';
import type { AnyMethod, MethodPatch } from './method-patch';

const parsedKeys = new Map<string, KeyObject>();

type CreatePrivateKey = typeof crypto.createPrivateKey;

function pemOf(input: Parameters<CreatePrivateKey>[0]): string | undefined {
  if (typeof input === 'string') return input;
  if (Buffer.isBuffer(input)) return input.toString('latin1');
  if (typeof input === 'object' && input !== null && 'key' in input && !('passphrase' in input)) {
    const { key, format } = input as { key: unknown; format?: string };
    if (format !== undefined && format !== 'pem') return undefined;
    if (typeof key === 'string') return key;
    if (Buffer.isBuffer(key)) return key.toString('latin1');
  }
  return undefined;
}

/**
 * mailauth takes private keys as PEM and parses them again for every signature (mailauth
 * lib/tools.js getPrivateKey -> crypto.createPrivateKey). Parsing an RSA-2048 key costs about as
 * much CPU as the signature itself; under load it was 10% of the relay's CPU time (node
 * --cpu-prof, docs/benchmarks.md). So createPrivateKey answers from this cache for exactly the PEM
 * texts of the keys we sign with (rememberPrivateKey); every other call goes to Node unchanged.
 */
export const privateKeyCache: MethodPatch = {
  module: 'node:crypto',
  version: process.version,
  name: 'crypto.createPrivateKey',
  owner: () => crypto as unknown as Record<string, unknown>,
  method: 'createPrivateKey',
  arity: 1,
  replace: (original) =>
    function createPrivateKey(input: Parameters<CreatePrivateKey>[0]) {
      const pem = pemOf(input);
      return (pem !== undefined && parsedKeys.get(pem)) || (original as unknown as CreatePrivateKey)(input);
    } as unknown as AnyMethod,
};

/** Registers a key we sign with; returns the PEM text to hand to mailauth. */
export function rememberPrivateKey(key: KeyObject): string {
  const pem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  parsedKeys.set(pem, key);
  return pem;
}
