/**
 * Password hashes for `users[].passwordHash`: scrypt (memory-hard, in node:crypto, no native addon).
 * Format: $scrypt$N=16384,r=8,p=1$<salt base64>$<key base64>.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_LENGTH = 32;
const DEFAULT_PARAMS = { N: 16384, r: 8, p: 1 };

function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  if (password.length === 0) throw new Error('the password is empty');
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LENGTH, { ...DEFAULT_PARAMS, maxmem: 64 * 1024 * 1024 });
  const { N, r, p } = DEFAULT_PARAMS;
  return `$scrypt$N=${N},r=${r},p=${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

export function parsePasswordHash(hash: string): ParsedHash | undefined {
  const match = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hash);
  if (!match) return undefined;
  const [, N, r, p, salt, key] = match;
  return { N: Number(N), r: Number(r), p: Number(p), salt: Buffer.from(salt, 'base64'), key: Buffer.from(key, 'base64') };
}

// Verifying an unknown user costs the same as a known one, so timing does not reveal usernames.
export const DUMMY_HASH = parsePasswordHash(
  '$scrypt$N=16384,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
) as ParsedHash;

/**
 * Constant-time comparison of the derived key; `hash` undefined means "no such user". On libuv's
 * pool: for the command line and tests; the relay's AUTH uses password-worker.ts.
 */
export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  const parsed = (hash && parsePasswordHash(hash)) || DUMMY_HASH;
  const key = await scrypt(password, parsed.salt, parsed.key.length, {
    N: parsed.N,
    r: parsed.r,
    p: parsed.p,
    maxmem: 256 * parsed.N * parsed.r + 1024 * 1024,
  });
  return parsed !== DUMMY_HASH && timingSafeEqual(key, parsed.key);
}
