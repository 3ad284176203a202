/** What a user and a receiver do: submit as the stack's user; verify DKIM with python3-dkim. */
import { createTransport } from 'nodemailer';
import { run, SYSTEM_PYTHON } from '../helpers/run';
import type { RehearsalWorld } from './world';

export async function submit(world: RehearsalWorld, to: string, subject: string, port = 587, user: RehearsalWorld['user'] = world.user): Promise<string> {
  const transport = createTransport({
    host: world.hostname,
    port,
    secure: false,
    requireTLS: true,
    tls: { ca: world.caPem, servername: world.hostname },
    auth: { user: user.username, pass: user.password },
  });
  try {
    const info = await transport.sendMail({ from: user.address, to, subject, text: `Rehearsed by npm run rehearse: ${subject}\n` });
    return info.messageId;
  } finally {
    transport.close();
  }
}

/** A message from outside to the MX on port 25, as another server sends it; returns the final reply (or the refusal). */
export async function sendUnauthenticated(world: RehearsalWorld, to: string, body: string): Promise<string> {
  const transport = createTransport({ host: world.hostname, port: 25, secure: false, tls: { ca: world.caPem, servername: world.hostname }, name: 'mx.example.org' });
  try {
    const info = await transport.sendMail({ from: 'sender@example.org', to, subject: 'rehearsal', text: `${body}\n` });
    return info.response;
  } catch (error) {
    const reply = (error as { response?: string }).response;
    if (reply === undefined) throw error;
    return reply;
  } finally {
    transport.close();
  }
}

const DKIMPY = `
import sys, json, dkim
table = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    value = table.get((name.decode() if isinstance(name, bytes) else name).rstrip('.').lower())
    return value.encode() if value else None
msg = sys.stdin.buffer.read()
d = dkim.DKIM(msg)
ok = d.verify(dnsfunc=dnsfunc)
print(json.dumps({'ok': bool(ok), 'domain': (d.domain or b'').decode(), 'selector': (d.selector or b'').decode()}))
`;

/** Debian's python3-dkim, with DNS answered from the records the mocks recorded for Cloudflare. */
export async function verifyDkim(world: RehearsalWorld, raw: Buffer): Promise<{ ok: boolean; domain: string; selector: string }> {
  const table = Object.fromEntries(world.records.filter((r) => r.type === 'TXT').map((r) => [r.name, r.value]));
  const result = await run(SYSTEM_PYTHON, ['-c', DKIMPY, JSON.stringify(table)], raw.toString('latin1'));
  if (result.code !== 0) throw new Error(`python3-dkim: ${result.stderr}`);
  return JSON.parse(result.stdout) as { ok: boolean; domain: string; selector: string };
}
