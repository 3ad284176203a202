/** mailauth's relaxed body hash (RFC 6376 3.4.4), which it ships without types: an oracle in tests. */
declare module 'mailauth/lib/dkim/body/relaxed' {
  export class RelaxedHash {
    constructor(algorithm?: string, maxBodyLength?: number);
    update(chunk: Buffer | null, final?: boolean): void;
    digest(encoding: 'base64' | 'hex'): string;
  }
}
