/**
 * What the bundled relay loads (docs/architecture.md "What loads at start"): the cold groups of
 * dist/mxkit.js -- `acme` (acme-client, selfsigned) and `mail` (mailauth's verifiers, libmime,
 * tldts) -- are evaluated only on the paths that need them, never to start or to relay a submitted
 * message; the start-to-ready figure of docs/benchmarks.md rests on it. A preload
 * (helpers/cold-group-counter.cjs) reports which groups the process evaluated when it exits.
 */
import { join } from 'node:path';
import { startChildRelay, type ChildRelay } from '../helpers/child-relay';
import { writeRelayFiles } from '../helpers/relay';
import { SmtpDialog } from '../helpers/smtp-dialog';
import { smtpTransport } from '../helpers/submit';

const COUNTER = ['--require', join(__dirname, '..', 'helpers', 'cold-group-counter.cjs')];
const TLS_CONTEXT_COUNTER = ['--require', join(__dirname, '..', 'helpers', 'tls-context-counter.cjs')];

async function evaluatedGroups(relay: ChildRelay): Promise<string> {
  relay.process.kill('SIGTERM');
  expect(await relay.exited).toBe(0);
  return /cold groups evaluated: (\S+)/.exec(relay.output())?.[1] ?? 'no report';
}

/** Starts the bundle, submits one message from `from` (answered 250), stops it: the groups evaluated. */
async function groupsForOneSubmission(from: string | { name: string; address: string }): Promise<string> {
  const files = await writeRelayFiles();
  const relay = await startChildRelay(files.configPath, COUNTER);
  const transport = smtpTransport({ port: relay.ports.submissions, ca: files.certificate.cert });
  try {
    const info = await transport.sendMail({ from, to: 'someone@elsewhere.test', subject: 'hello', text: 'hello' });
    expect(info.response).toMatch(/^250 /);
  } finally {
    transport.close();
  }
  return evaluatedGroups(relay);
}

describe('the bundled relay (dist/mxkit.js)', () => {
  it('starts and takes a submitted message with plain ASCII headers without evaluating a cold group', async () => {
    expect(await groupsForOneSubmission('App <app@example.test>')).toBe('none');
  });

  it('evaluates the mail group for the first message on mx (its SPF, DKIM and DMARC checks), and only that group', async () => {
    const files = await writeRelayFiles();
    const relay = await startChildRelay(files.configPath, COUNTER);
    const session = await SmtpDialog.open(relay.ports.mx);
    try {
      expect((await session.greet()).code).toBe(250);
      expect((await session.command('MAIL FROM:<sender@sender.test>')).code).toBe(250);
      expect((await session.command('RCPT TO:<info@example.test>')).code).toBe(250);
      // Whatever the verdict (this world has no DNS), the checks ran.
      const reply = await session.data('From: <sender@sender.test>\r\nSubject: inbound\r\n\r\nhello\r\n');
      expect([250, 451, 550]).toContain(reply.code);
    } finally {
      session.close();
    }
    expect(await evaluatedGroups(relay)).toBe('mail');
  });

  it('evaluates the mail group for a From with an encoded word (libmime reads it)', async () => {
    expect(await groupsForOneSubmission({ name: 'Zoë Ørsted', address: 'app@example.test' })).toBe('mail');
  });

  it('serves TLS on every listener without loading a CA list into its contexts (no public roots parsed at start)', async () => {
    const files = await writeRelayFiles((config) => {
      config.listen.https = { host: '127.0.0.1', port: 0 };
    });
    const relay = await startChildRelay(files.configPath, TLS_CONTEXT_COUNTER);
    try {
      // STARTTLS on submission and TLS from the first byte on submissions still work for a client.
      for (const listener of ['submission', 'submissions'] as const) {
        const transport = smtpTransport({ port: relay.ports[listener], ca: files.certificate.cert }, { listener });
        try {
          const info = await transport.sendMail({ from: 'App <app@example.test>', to: 'someone@elsewhere.test', subject: 'tls', text: 'tls' });
          expect(info.response).toMatch(/^250 /);
        } finally {
          transport.close();
        }
      }
    } finally {
      relay.process.kill('SIGTERM');
    }
    expect(await relay.exited).toBe(0);
    // The key check at start, mx, submission, submissions and the HTTPS listener: none with Node's roots.
    const [, serving, withoutCaList] = /serving tls contexts: (\d+), without a CA list: (\d+)/.exec(relay.output()) ?? [];
    expect(Number(serving)).toBeGreaterThanOrEqual(5);
    expect(Number(withoutCaList)).toBe(0);
  });
});

