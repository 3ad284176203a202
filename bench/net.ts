import { connect, createServer, type AddressInfo } from 'node:net';

/** A free TCP port on `host` (bound then released: the peers here cannot take port 0). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something on host:port answers with an SMTP 220 banner (retries while refused). */
export async function waitForBanner(host: string, port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.setEncoding('latin1');
      socket.once('data', (text: string) => {
        socket.end('QUIT\r\n');
        resolve(text.startsWith('220'));
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing answered on ${host}:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
