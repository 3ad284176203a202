/**
 * mailauth takes private keys as PEM and parses them again for every signature
 * (mailauth lib/tools.js getPrivateKey -> crypto.createPrivateKey). Parsing an RSA-2048 key costs
 * about as much CPU as the signature itself, and under load it was 10% of the relay's CPU time
 * (node --cpu-prof, docs/benchmarks.md). The keys we sign with are parsed once at start-up, so
 * createPrivateKey answers for exactly those PEM texts from this cache; every other call goes to
 * Node unchanged.
 */
import crypto, { type KeyObject } from 'node:crypto';

const parsed = new Map<string, KeyObject>();
let installed = false;

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

/** Registers a key we sign with; returns the PEM text to hand to mailauth. */
export function rememberPrivateKey(key: KeyObject): string {
  const pem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  parsed.set(pem, key);
  if (!installed) {
    installed = true;
    const original: CreatePrivateKey = crypto.createPrivateKey;
    crypto.createPrivateKey = ((input: Parameters<CreatePrivateKey>[0]) => {
      const pemText = pemOf(input);
      return (pemText !== undefined && parsed.get(pemText)) || original(input);
    }) as CreatePrivateKey;
  }
  return pem;
}
