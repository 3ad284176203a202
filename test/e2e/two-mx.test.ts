/**
 * Two relays behind two MX records, as `mxkit:hosts: 2` deploys them, on loopback: mail.example.test
 * (127.0.0.1) and mail2.example.test (127.0.0.4) on the same MX port, the records made by the
 * deployment's record builder. A third party's MTA (another relay from the same bundle, for
 * sender.test) finds them the way any sender does, through MX lookups. Mail to postmaster@example.test
 * is forwarded to a mailbox at elsewhere.test (127.0.0.2), where the test reads what arrived.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { buildDeploymentRecords, dkimValue, type DnsRecord } from '../../infra/builders/records';
import { buildRelayConfig, filesUnder } from '../../infra/builders/relay-config';
import type { RelayConfigInput } from '../../relay/src/config/schema';
import { startChildRelay, type ChildRelay } from '../helpers/child-relay';
import { startDnsServer, type TestDnsServer, type Zone } from '../helpers/dns-server';
import { startReceiver, type Receiver } from '../helpers/receiver';
import { passwordHash, PASSWORD, tempDir } from '../helpers/relay';
import { SmtpDialog } from '../helpers/smtp-dialog';
import { makeCertificate } from '../helpers/tls';

const HOSTS = [
  { hostname: 'mail.example.test', ipv4: '127.0.0.1' },
  { hostname: 'mail2.example.test', ipv4: '127.0.0.4' },
];
const SENDER = { hostname: 'mail.sender.test', ipv4: '127.0.0.3' };
const POSTMASTER = 'postmaster@example.test';
const FORWARD_TO = 'ops@elsewhere.test';

/** The builder's records as the test DNS table (one entry per name). */
function zonesOf(records: DnsRecord[]): Record<string, Zone> {
  const zones: Record<string, Zone> = {};
  for (const record of records) {
    const zone = (zones[record.name] ??= {});
    if (record.type === 'A') (zone.A ??= []).push(record.value);
    if (record.type === 'MX') (zone.MX ??= []).push({ exchange: record.value, priority: record.priority ?? 10 });
    if (record.type === 'TXT') (zone.TXT ??= []).push(record.value);
  }
  return zones;
}

interface RelaySpec {
  name: string;
  hostname: string;
  ip: string;
  domains: string[];
  mxPort: number;
  deliveryPort: number;
  /** Names the certificate covers besides the host name. */
  alsoNames?: string[];
  routes?: RelayConfigInput['routes'];
  /** The SRS key every host of the deployment shares. */
  srsSecretFile?: string;
}

interface World {
  dir: string;
  dns: TestDnsServer;
  mailbox: Receiver;
  dkimKey: string;
  senderDkimKey: string;
}

/** Writes a relay's files and config (made by the deployment's relay-config builder) and starts it. */
async function startRelay(world: World, spec: RelaySpec): Promise<ChildRelay> {
  const dir = join(world.dir, spec.name);
  mkdirSync(join(dir, 'spool'), { recursive: true });
  const files = filesUnder(dir, dir);
  const certificate = await makeCertificate(spec.hostname);
  writeFileSync(files.tlsCert, certificate.cert);
  writeFileSync(files.tlsKey, certificate.key, { mode: 0o600 });
  writeFileSync(files.dkimKey, spec.domains[0] === 'sender.test' ? world.senderDkimKey : world.dkimKey, { mode: 0o600 });
  const config = buildRelayConfig({
    hostname: spec.hostname,
    domains: spec.domains,
    files,
    dkimSelector: 'mx1',
    certificateNames: spec.alsoNames,
    users: [{ username: 'app', passwordHash: await passwordHash(), allowedFrom: [`*@${spec.domains[0]}`] }],
    routes: spec.routes,
    tls: { mode: 'self-signed' },
    listen: {
      mx: { host: spec.ip, port: spec.mxPort },
      submission: { host: spec.ip, port: 0 },
      submissions: { host: spec.ip, port: 0 },
      http: { host: spec.ip, port: 0 },
    },
    delivery: { dnsServers: [world.dns.address], port: spec.deliveryPort },
  });
  // "The internet" here is loopback: an opt-in, never a production setting.
  config.delivery = { ...config.delivery, retrySchedule: ['200ms'], maxQueueTime: '1h', allowPrivateAddresses: true };
  if (spec.srsSecretFile) config.forwarding = { srsSecretFile: spec.srsSecretFile };
  const configPath = join(dir, 'relay.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  return startChildRelay(configPath);
}

async function stop(relay: ChildRelay): Promise<void> {
  if (relay.process.exitCode === null && relay.process.signalCode === null) relay.process.kill('SIGTERM');
  await relay.exited;
}

const DEFERRED = /"msg":"deferred"/;

/** How many times `pattern` occurs in a relay's log so far. */
const count = (relay: ChildRelay, pattern: RegExp) => relay.output().split('\n').filter((line) => pattern.test(line)).length;

/** The host name in the first Received header our side added ("by <name>"). */
const receivedBy = (raw: Buffer) => /^Received: [^\r\n]*(?:\r\n[ \t][^\r\n]*)*/m.exec(raw.toString('latin1'))?.[0].match(/\bby ([a-z0-9.-]+)/)?.[1];

describe('two relays behind two MX records', () => {
  let world: World;
  const relays: ChildRelay[] = [];
  let mx: ChildRelay[];
  let sender: ChildRelay;
  let submit: (subject: string) => Promise<void>;
  let mxPort: number;
  let hostSpec: (index: number) => RelaySpec;

  beforeAll(async () => {
    const pair = () => generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const ours = pair();
    const theirs = pair();
    const mailbox = await startReceiver({ host: '127.0.0.2', hostname: 'mx.elsewhere.test' });
    const [example] = buildDeploymentRecords({ hosts: HOSTS, domains: [{ domain: 'example.test', dkim: [{ selector: 'mx1', publicKey: ours.publicKey }] }] });
    const [senderZone] = buildDeploymentRecords({ hosts: [SENDER], domains: [{ domain: 'sender.test', dkim: [{ selector: 'mx1', publicKey: theirs.publicKey }] }] });
    const dns = await startDnsServer({
      ...zonesOf(example.records),
      ...zonesOf(senderZone.records),
      // Every sender here connects from 127.0.0.1 (the kernel's choice of source on lo).
      'sender.test': { ...zonesOf(senderZone.records)['sender.test'], TXT: ['v=spf1 ip4:127.0.0.0/8 -all'] },
      'mx1._domainkey.sender.test': { TXT: [dkimValue(theirs.publicKey)] },
      'elsewhere.test': { MX: [{ exchange: 'mx.elsewhere.test', priority: 10 }] },
      'mx.elsewhere.test': { A: ['127.0.0.2'] },
    });
    world = { dir: tempDir('mxkit-two-mx-'), dns, mailbox, dkimKey: ours.privateKey, senderDkimKey: theirs.privateKey };

    const srsSecretFile = join(world.dir, 'srs.key');
    writeFileSync(srsSecretFile, randomBytes(32), { mode: 0o600 });
    hostSpec = (index) => ({
      name: `host${index + 1}`,
      ...HOSTS[index],
      ip: HOSTS[index].ipv4,
      domains: ['example.test'],
      mxPort,
      deliveryPort: mailbox.port,
      routes: [{ match: POSTMASTER, forward: [FORWARD_TO] }],
      srsSecretFile,
      // Host 2 also answers to the submission name, host 1's.
      ...(index > 0 ? { alsoNames: [HOSTS[0].hostname] } : {}),
    });
    const first = await startRelay(world, { ...hostSpec(0), mxPort: 0 });
    relays.push(first);
    // Every MX listens on the same port, as every MX on the internet listens on 25.
    mxPort = first.ports.mx;
    const second = await startRelay(world, hostSpec(1));
    relays.push(second);
    mx = [first, second];
    sender = await startRelay(world, { name: 'sender', ...SENDER, ip: SENDER.ipv4, domains: ['sender.test'], mxPort: 0, deliveryPort: mxPort });
    relays.push(sender);
    const transport = nodemailer.createTransport({ host: SENDER.ipv4, port: sender.ports.submissions, secure: true, auth: { user: 'app', pass: PASSWORD }, tls: { rejectUnauthorized: false } });
    submit = async (subject) => {
      await transport.sendMail({ from: 'alice@sender.test', to: POSTMASTER, subject, text: `${subject}\n` });
    };
  });

  afterAll(async () => {
    for (const relay of relays) await stop(relay);
    await world?.mailbox.close();
    await world?.dns.close();
  });

  const arrived = (subject: string) => world.mailbox.messages.find((mail) => mail.raw.toString('latin1').includes(`Subject: ${subject}`));
  const waitFor = async (subject: string) => {
    for (;;) {
      const mail = arrived(subject);
      if (mail) return mail;
      await world.mailbox.waitForMessages(world.mailbox.messages.length + 1);
    }
  };

  it('publish two MX records of equal preference for the domain, one per host', async () => {
    expect(world.dns.zones.get('example.test')?.MX).toEqual([
      { exchange: 'mail.example.test', priority: 10 },
      { exchange: 'mail2.example.test', priority: 10 },
    ]);
  });

  it('with both up, mail from another domain\'s MTA reaches the forwarding address', async () => {
    await submit('both up');
    const mail = await waitFor('both up');
    expect(mail.rcptTo).toEqual([FORWARD_TO]);
    expect(['mail.example.test', 'mail2.example.test']).toContain(receivedBy(mail.raw));
  });

  it('a bounce to the forwarding address one host made is taken by the other host too (they share the SRS key)', async () => {
    const forwarded = await waitFor('both up');
    expect(forwarded.mailFrom).toMatch(/^SRS0=/i);
    const other = receivedBy(forwarded.raw) === HOSTS[0].hostname ? HOSTS[1] : HOSTS[0];
    const dialog = await SmtpDialog.open(mxPort, { host: other.ipv4 });
    try {
      await dialog.greet();
      expect((await dialog.command('MAIL FROM:<>')).code).toBe(250);
      expect((await dialog.command(`RCPT TO:<${forwarded.mailFrom}>`)).code).toBe(250);
    } finally {
      dialog.close();
    }
  });

  it('with the first stopped, every message still arrives through the second, each in the sender\'s first attempt', async () => {
    await stop(mx[0]);
    const subjects = Array.from({ length: 20 }, (_, index) => `first stopped ${index}`);
    for (const subject of subjects) await submit(subject);
    for (const subject of subjects) expect(receivedBy((await waitFor(subject)).raw)).toBe('mail2.example.test');
    // Equal preferences are tried in random order: a sender that picked the stopped host first
    // moved on to the second in the same attempt (RFC 5321 §5.1), never deferring the message.
    expect(count(sender, /host unreachable, trying the next/)).toBeGreaterThan(0);
    expect(count(sender, DEFERRED)).toBe(0);
  });

  it('with both stopped the sender keeps the message, and its retry reaches the second MX once that is back', async () => {
    await stop(mx[1]);
    await submit('both stopped');
    // The log so far holds one deferral: this message's first attempt, with neither MX reachable.
    await sender.waitFor(DEFERRED);
    expect(arrived('both stopped')).toBeUndefined();
    const back = await startRelay(world, hostSpec(1));
    relays.push(back);
    expect(receivedBy((await waitFor('both stopped')).raw)).toBe('mail2.example.test');
  });
});
