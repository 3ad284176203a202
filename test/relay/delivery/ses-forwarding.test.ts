/**
 * Forwarding through a smarthost that demands verified senders (Amazon SES, here its loopback
 * stand-in): with forwarding.rewriteFrom the forward goes out From our domain, DKIM-signed by us
 * and ARC-sealed over the rewritten message; without it SES refuses, and the failure reaches the
 * original sender as a DSN only when that sender was authenticated at intake, else the failed list.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authenticate } from 'mailauth';
import { dkimSign } from 'mailauth/lib/dkim/sign';
import { dkimValue } from '../../../infra/builders/records';
import type { RelayConfigInput } from '../../../relay/src/config/schema';
import { BUNDLE } from '../../helpers/child-relay';
import { HOSTNAME } from '../../helpers/relay';
import { run, SYSTEM_PYTHON } from '../../helpers/run';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { startDeliveryEnv, type DeliveryEnv } from './env';
import { makeCertificate } from '../../helpers/tls';
import { SES_HOST, SES_PASSWORD, SES_USER, sesStandIn } from './ses-standin';
import { dkimpyVerify, parseReport, resolverFor } from './verify';

const ARC_VERIFY = `
import sys, json, dkim
table = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    value = table.get((name.decode() if isinstance(name, bytes) else name).rstrip('.').lower())
    return value.encode() if value else None
cv, results, comment = dkim.arc_verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc)
print(cv.decode())
`;

const senderKeys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

/** A relay sending everything through the SES stand-in, as `mxkit:outbound ses` configures it. */
async function sesWorld(rewriteFrom: 'auto' | 'never'): Promise<DeliveryEnv> {
  const certificate = await makeCertificate(SES_HOST);
  const env = await startDeliveryEnv({
    remote: sesStandIn('example.test', certificate),
    configure: (config: RelayConfigInput, dir: string) => {
      writeFileSync(join(dir, 'ses.password'), `${SES_PASSWORD}\n`, { mode: 0o600 });
      const port = config.delivery?.port ?? 25;
      config.delivery = { ...config.delivery, smarthost: { host: SES_HOST, port, username: SES_USER, passwordFile: join(dir, 'ses.password') } };
      config.forwarding = { rewriteFrom };
    },
    relayOptions: { delivery: { tlsCa: [certificate.cert] } },
  });
  env.dns.set(SES_HOST, { A: ['127.0.0.2'] });
  // A third party whose mail we forward: SPF passes for loopback, DKIM key s1, DMARC p=reject.
  env.dns.set('sender.test', { MX: [{ exchange: 'mx.sender.test', priority: 10 }], TXT: ['v=spf1 ip4:127.0.0.0/8 -all'] });
  env.dns.set('mx.sender.test', { A: ['127.0.0.3'] });
  env.dns.set('s1._domainkey.sender.test', { TXT: [dkimValue(senderKeys.publicKey)] });
  env.dns.set('_dmarc.sender.test', { TXT: ['v=DMARC1; p=reject'] });
  return env;
}

async function signedBySender(raw: string): Promise<string> {
  const signature = await dkimSign(raw, { signTime: new Date(), signingDomain: 'sender.test', selector: 's1', privateKey: senderKeys.privateKey, signatureData: [{ signingDomain: 'sender.test', selector: 's1', privateKey: senderKeys.privateKey }] });
  return signature.signatures + raw;
}

/** One message to the relay's mx listener; the queue id from the 250. */
async function sendToMx(env: DeliveryEnv, from: string, to: string, raw: string): Promise<string> {
  const client = await SmtpDialog.open(env.relay.port('mx'));
  try {
    await client.read();
    await client.command('EHLO mta.sender.test');
    expect((await client.command(`MAIL FROM:<${from}>`)).code).toBe(250);
    expect((await client.command(`RCPT TO:<${to}>`)).code).toBe(250);
    const reply = await client.data(raw);
    expect(reply.code).toBe(250);
    return /queued as ([0-9A-Z]+)/.exec(reply.text)?.[1] ?? '';
  } finally {
    client.close();
  }
}

const dnsTable = (env: DeliveryEnv) => Object.fromEntries([...env.dns.zones.entries()].filter(([, zone]) => zone.TXT).map(([name, zone]) => [name, (zone.TXT ?? []).join('')]));

describe('forwarding through the SES stand-in with forwarding.rewriteFrom auto', () => {
  let env: DeliveryEnv | undefined;
  beforeAll(async () => {
    env = await sesWorld('auto');
  });
  afterAll(() => env?.stop());

  it('delivers the forward From our domain ("Alice via example.test"), the original From in Reply-To, signed by us so python3-dkim and DMARC pass, and ARC still validating', async () => {
    const world = env as DeliveryEnv;
    const raw = ['From: Alice <alice@sender.test>', 'To: <info@example.test>', 'Subject: hello via SES', `Date: ${new Date().toUTCString()}`, 'Message-ID: <ses1@sender.test>', '', 'Hi.', ''].join('\r\n');
    const id = await sendToMx(world, 'alice@sender.test', 'info@example.test', await signedBySender(raw));
    await world.waitForEvent('finished', (event) => event.id === id);

    const [forwarded] = world.remote.messages;
    expect(forwarded.user).toBe(SES_USER);
    expect(forwarded.secure).toBe(true);
    expect(forwarded.rcptTo).toEqual(['inbox@elsewhere.test']);
    const text = forwarded.raw.toString('latin1');
    expect(text).toMatch(/^From: "Alice via example\.test" <info@example\.test>\r$/m);
    expect(text).toMatch(/^Reply-To: Alice <alice@sender\.test>\r$/m);
    expect(text).toMatch(/^X-Original-From: Alice <alice@sender\.test>\r$/m);
    expect(text.match(/^From:/gim)).toHaveLength(1);
    expect(text).toMatch(/^DKIM-Signature: [^\r]*d=example\.test/m);

    // Independent verifiers: python3-dkim on our signature (the first one), python3-dkim's ARC
    // validation, and mailauth's DMARC for the rewritten From.
    expect(await dkimpyVerify(forwarded.raw, world.dns)).toBe('pass');
    const arc = await run(SYSTEM_PYTHON, ['-c', ARC_VERIFY, JSON.stringify(dnsTable(world))], text);
    expect(arc.stdout.trim()).toBe('pass');
    const verdict = await authenticate(forwarded.raw, { ip: '127.0.0.1', helo: HOSTNAME, sender: forwarded.mailFrom, mta: 'mx.elsewhere.test', resolver: resolverFor(world.dns) });
    expect(verdict.dmarc && verdict.dmarc.status.result).toBe('pass');
    // The newest ARC set records what intake found: the original sender's SPF, DKIM and DMARC.
    const aar = /^ARC-Authentication-Results: i=2;[^\r]*((\r\n[ \t][^\r]*)*)/m.exec(text)?.[0] ?? '';
    expect(aar).toMatch(/spf=pass/);
    expect(aar).toMatch(/dmarc=pass[^;]*header\.from=sender\.test/);
  });
});

describe('forwarding through the SES stand-in with forwarding.rewriteFrom never', () => {
  let env: DeliveryEnv | undefined;
  beforeAll(async () => {
    env = await sesWorld('never');
  });
  afterAll(() => env?.stop());

  it('is refused 554 by SES, and the SPF-authenticated original sender gets a DSN saying so', async () => {
    const world = env as DeliveryEnv;
    const raw = ['From: Alice <alice@sender.test>', 'To: <info@example.test>', 'Subject: not rewritten', '', 'Hi.', ''].join('\r\n');
    const id = await sendToMx(world, 'alice@sender.test', 'info@example.test', raw);
    const bounced = await world.waitForEvent('bounced', (event) => event.id === id);
    expect(bounced).toMatchObject({ reason: 'remote_5xx', detail: expect.stringMatching(/^554 .*Email address is not verified/) });
    const dsnEvent = await world.waitForEvent('dsn', (event) => event.id === id);
    expect(dsnEvent).toMatchObject({ to: 'alice@sender.test', action: 'failed' });
    await world.waitForEvent('finished', (event) => event.id === dsnEvent.dsnId);
    // The DSN went out through SES too (From MAILER-DAEMON@mail.example.test: a verified subdomain).
    const dsn = world.remote.messages.find((mail) => mail.rcptTo.includes('alice@sender.test'));
    expect(dsn?.mailFrom).toBe('');
    const report = parseReport(dsn?.raw ?? Buffer.alloc(0));
    expect(report.parts[1].body).toMatch(/^Original-Recipient: rfc822; info@example\.test$/m);
    expect(report.parts[1].body).toMatch(/^Diagnostic-Code: smtp; 554 .*not verified/m);
    expect((await world.relay.relay.spool.failed.list()).map((record) => record.id)).not.toContain(id);
  });

  it('sends a forged sender no DSN, and shows the message under `mxkit queue list --failed` with the reason and SES\'s reply', async () => {
    const world = env as DeliveryEnv;
    const raw = ['From: <ceo@nowhere.test>', 'To: <info@example.test>', 'Subject: forged', '', 'Pay.', ''].join('\r\n');
    const id = await sendToMx(world, 'ceo@nowhere.test', 'info@example.test', raw);
    expect(await world.waitForEvent('failed', (event) => event.id === id)).toMatchObject({ recipients: ['inbox@elsewhere.test'] });
    expect(world.events.filter((event) => event.name === 'dsn' && event.payload.id === id)).toEqual([]);

    const listed = await run(process.execPath, [BUNDLE, 'queue', 'list', '--failed', '--config', world.relay.configPath]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${id}  received \\S+ on mx from <ceo@nowhere\\.test>  failed \\S+  kept until \\S+$`, 'm'));
    expect(listed.stdout).toMatch(/^ {4}failed {4}<inbox@elsewhere\.test> \(for <info@example\.test>\) {2}5\.\d\.\d+ remote_5xx from email-smtp\.test-1\.amazonaws\.test: 554 .*not verified.* {2}\[no DSN: sender not authenticated\]$/m);
    const json = JSON.parse((await run(process.execPath, [BUNDLE, 'queue', 'list', '--failed', '--json', '--config', world.relay.configPath])).stdout) as Array<{ id: string; expiresAt: string; failedAt: string }>;
    const entry = json.find((record) => record.id === id);
    // delivery.failedRetention defaults to 7 days.
    expect(Date.parse(entry?.expiresAt ?? '') - Date.parse(entry?.failedAt ?? '')).toBe(7 * 86_400_000);
    const metric = await world.relay.relay.metrics.registry.getSingleMetricAsString('mxkit_delivery_failed_total');
    expect(metric).toMatch(/^mxkit_delivery_failed_total\{listener="mx",reason="remote_5xx"\} 1$/m);
  });
});
