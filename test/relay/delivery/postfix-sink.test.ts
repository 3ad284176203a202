import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { message, startDeliveryEnv } from './env';
import { dkimpyVerify } from './verify';

async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once something accepts connections on host:port (smtp-sink has no readiness signal). */
async function accepting(host: string, port: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, host, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe('delivery to Postfix smtp-sink (a real, independent MTA)', () => {
  it('hands a DKIM-signed message to smtp-sink on 127.0.0.2, and python3-dkim passes what it stored', async () => {
    const port = await freePort('127.0.0.2');
    const dump = mkdtempSync(join(tmpdir(), 'mxkit-sink-'));
    chmodSync(dump, 0o777);
    const sink = spawn('smtp-sink', ['-u', 'postfix', '-c', '-d', `${dump}/%M.`, `127.0.0.2:${port}`, '10'], { stdio: 'ignore' });
    const env = await startDeliveryEnv({
      configure: (config) => {
        config.delivery = { ...config.delivery, port };
      },
    });
    try {
      await accepting('127.0.0.2', port);
      const id = await env.submit(message('to postfix'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
      const delivered = await env.waitForEvent('delivered', (event) => event.id === id);
      expect(delivered.remoteMta).toBe('mx.elsewhere.test');
      const [file] = readdirSync(dump);
      const stored = readFileSync(join(dump, file));
      // smtp-sink prepends its own X-* and Received lines; the signed part follows unchanged.
      const text = stored.toString('latin1');
      const signed = Buffer.from(text.slice(text.indexOf('DKIM-Signature:')).replace(/\r?\n/g, '\r\n'), 'latin1');
      expect(text).toMatch(/^X-Mail-Args: <app@example\.test>/m);
      expect(await dkimpyVerify(signed, env.dns)).toBe('pass');
    } finally {
      sink.kill('SIGTERM');
      await env.stop();
    }
  });
});
