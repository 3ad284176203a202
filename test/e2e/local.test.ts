/**
 * `mxkit local` end to end, as a child process on loopback with ephemeral ports and its own state
 * folder: the records it serves, the inbox's verdicts, mail out through the relay and mail in to
 * postmaster, and a clean stop. Tests marked "through the relay" need the relay's delivery.
 */
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { buildMailRecords, defaultReportMailboxes, mtaStsId, mtaStsPolicy } from '../../infra/builders/records';
import { fetchText, inboxMessages, rawSource, receiveWhile } from './helpers/inbox';
import { processesMentioning, startLocal, type LocalRun } from './helpers/local-process';
import { run } from '../helpers/run';
import { arcSealed, dkimSigned, dnsResolver, inboxMx, mailauthResolver, plainMessage, send, stateFile } from './helpers/mail';

let local: LocalRun;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'mxkit-local-'));
  local = await startLocal(stateDir);
});

afterAll(async () => {
  await local?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const relayDkimKey = () => stateFile(stateDir, 'dkim.key');

/** What a mail client of the demo user does: STARTTLS on submission, trusting the local CA, AUTH, then the message. */
function submitAsDemo(raw: string, to = ['someone@inbox.test']): Promise<string> {
  const { endpoints } = local;
  return send({
    host: endpoints.submission.host,
    port: endpoints.submission.port,
    ca: stateFile(stateDir, 'tls.crt'),
    auth: { user: endpoints.user.username, pass: endpoints.user.password },
    envelope: { from: endpoints.user.address, to },
    raw,
  });
}

/** GET over HTTPS from host:port with SNI and Host `servername`, trusting only `ca`. */
function httpsGet(at: { host: string; port: number }, servername: string, path: string, ca: string): Promise<{ status: number | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: at.host, port: at.port, path, servername, headers: { host: servername }, ca }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('mxkit local on loopback', () => {
  it("writes endpoints.json with the contract's submission, mx, inbox, dns and user entries, then the submissions, mtaSts and rspamd extras", () => {
    const { endpoints } = local;
    // CI installs Debian's rspamd (.ci/run), so mxkit local runs it.
    expect(Object.keys(endpoints)).toEqual(['submission', 'mx', 'inbox', 'dns', 'user', 'submissions', 'mtaSts', 'rspamd']);
    expect(endpoints.rspamd).toEqual({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    expect(endpoints.submission).toEqual({ host: '127.0.0.1', port: expect.any(Number) });
    expect(endpoints.mx).toEqual({ host: '127.0.0.1', port: expect.any(Number) });
    expect(endpoints.dns).toEqual({ host: '127.0.0.1', port: expect.any(Number) });
    expect(endpoints.inbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(endpoints.user).toEqual({ username: 'demo', password: expect.stringMatching(/^[A-Za-z0-9]{20}$/), address: 'demo@example.test' });
    expect(endpoints.submissions).toEqual({ host: '127.0.0.1', port: expect.any(Number) });
    expect(endpoints.mtaSts).toEqual({ host: '127.0.0.1', port: expect.any(Number) });
  });

  it('prints the ports, the demo password and commands to send mail out and in', async () => {
    await local.waitForOutput(/Records: dig/);
    const output = local.output();
    expect(output).toContain(`submission 127.0.0.1:${local.endpoints.submission.port}`);
    expect(output).toContain(local.endpoints.user.password);
    expect(output).toMatch(/swaks --server 127\.0\.0\.1 --port \d+ --tls/);
    expect(output).toContain('python3 -c "import smtplib');
    expect(output).toContain('--to postmaster@example.test');
    expect(output).toMatch(/rspamd {5}http:\/\/127\.0\.0\.1:\d+ \(rspamd \d[\d.]*, .*\): content scanning on/);
    expect(output).toContain("--body 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'");
    const { dns, mx, submission, submissions, mtaSts } = local.endpoints;
    expect(output).toContain(
      `check --domain example.test --dns-server ${dns.host}:${dns.port} --smtp-port ${mx.port} --submission-port ${submission.port} ` +
        `--submissions-port ${submissions.port} --https-port ${mtaSts.port} --ca `,
    );
  });

  it('serves every record the infra builder makes for example.test at 127.0.0.1', async () => {
    const publicKey = createPublicKey(relayDkimKey()).export({ type: 'spki', format: 'pem' }).toString();
    const expected = buildMailRecords({
      domain: 'example.test',
      hostname: 'mail.example.test',
      ipv4: '127.0.0.1',
      dkim: { selector: 'mx1', publicKey },
      mtaSts: { mode: 'testing', maxAge: '1d' },
      reportMailboxes: defaultReportMailboxes('example.test'),
    });
    expect(expected.find((r) => r.key === 'dmarc')?.value).toBe('v=DMARC1; p=none; rua=mailto:dmarc-reports@example.test');
    expect(expected.map((r) => r.key).sort()).toEqual(['a', 'dkim', 'dmarc', 'helo-spf', 'mta-sts', 'mta-sts-a', 'mx', 'spf', 'tls-rpt']);
    const resolver = dnsResolver(local.endpoints);
    for (const record of expected) {
      if (record.type === 'A') expect(await resolver.resolve4(record.name)).toEqual([record.value]);
      if (record.type === 'MX') expect(await resolver.resolveMx(record.name)).toEqual([{ exchange: record.value, priority: record.priority }]);
      if (record.type === 'TXT') expect((await resolver.resolveTxt(record.name)).map((parts) => parts.join(''))).toEqual([record.value]);
    }
  });

  it("points inbox.test's MX at a host on 127.0.0.2 and refuses names outside its zones", async () => {
    const resolver = dnsResolver(local.endpoints);
    expect(await resolver.resolveMx('inbox.test')).toEqual([{ exchange: 'mx.inbox.test', priority: 10 }]);
    expect(await resolver.resolve4('mx.inbox.test')).toEqual(['127.0.0.2']);
    await expect(resolver.resolve4('example.com')).rejects.toMatchObject({ code: 'EREFUSED' });
  });

  it('answers reverse DNS for each loopback host with the name that resolves back to it', async () => {
    const resolver = dnsResolver(local.endpoints);
    expect(await resolver.resolvePtr('1.0.0.127.in-addr.arpa')).toEqual(['mail.example.test']);
    expect(await resolver.resolvePtr('2.0.0.127.in-addr.arpa')).toEqual(['mx.inbox.test']);
    expect(await resolver.resolvePtr('3.0.0.127.in-addr.arpa')).toEqual(['mail.sender.test']);
    expect(await resolver.resolve4('mail.sender.test')).toEqual(['127.0.0.3']);
    await expect(resolver.resolvePtr('9.0.0.127.in-addr.arpa')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('serves the MTA-STS policy whose id the _mta-sts record publishes, for mta-sts.example.test', async () => {
    const policy = await httpsGet(local.endpoints.mtaSts, 'mta-sts.example.test', '/.well-known/mta-sts.txt', stateFile(stateDir, 'tls.crt'));
    expect(policy.status).toBe(200);
    expect(policy.body).toBe(mtaStsPolicy('testing', ['mail.example.test'], '1d'));
    const [txt] = await dnsResolver(local.endpoints).resolveTxt('_mta-sts.example.test');
    expect(txt.join('')).toBe(`v=STSv1; id=${mtaStsId(policy.body)}`);
  });

  it('the inbox passes SPF, DKIM and DMARC for mail signed with the local key from 127.0.0.1, and records TLS', async () => {
    const inbox = await inboxMx(local.endpoints, stateDir);
    const { raw, subject } = plainMessage('demo@example.test', 'someone@inbox.test', 'direct');
    const signed = await dkimSigned(raw, 'example.test', 'mx1', relayDkimKey());
    const message = await receiveWhile(local.endpoints.inbox.url, (m) => m.subject === subject, () =>
      send({ host: inbox.host, port: inbox.port, localAddress: '127.0.0.1', ca: inbox.ca, envelope: { from: 'demo@example.test', to: ['someone@inbox.test'] }, raw: signed }),
    );
    expect(message.verdicts.spf.result).toBe('pass');
    expect(message.verdicts.dkim).toMatchObject({ result: 'pass', detail: expect.stringContaining('d=example.test s=mx1') });
    expect(message.verdicts.dmarc.result).toBe('pass');
    expect(message.tls).toEqual({ protocol: expect.stringMatching(/^TLSv1\.[23]$/), cipher: expect.any(String) });
    const source = await rawSource(local.endpoints.inbox.url, message.id);
    expect(source.type).toMatch(/^text\/plain/);
    expect(source.body).toMatch(/^Received: from /);
    expect(source.body).toMatch(/Authentication-Results: mx\.inbox\.test;[\s\S]*dkim=pass/);
    expect(source.body).toContain(`Subject: ${subject}`);
  });

  it('the inbox fails SPF and DMARC for example.test mail from an address its SPF does not list', async () => {
    const inbox = await inboxMx(local.endpoints, stateDir);
    const { raw, subject } = plainMessage('demo@example.test', 'someone@inbox.test', 'spoofed');
    const message = await receiveWhile(local.endpoints.inbox.url, (m) => m.subject === subject, () =>
      send({ host: inbox.host, port: inbox.port, localAddress: '127.0.0.3', ca: inbox.ca, envelope: { from: 'demo@example.test', to: ['someone@inbox.test'] }, raw }),
    );
    expect(message.verdicts.spf.result).toBe('fail');
    expect(message.verdicts.dkim.result).toBe('none');
    expect(message.verdicts.dmarc.result).toBe('fail');
  });

  it('the inbox accepts a forwarded message sealed with the local key as a valid ARC chain', async () => {
    const inbox = await inboxMx(local.endpoints, stateDir);
    const { raw, subject } = plainMessage('alice@sender.test', 'postmaster@example.test', 'sealed');
    const original = await dkimSigned(raw, 'sender.test', 's1', stateFile(stateDir, 'sender-dkim.key'));
    const resolver = mailauthResolver(local.endpoints);
    const sealed = await arcSealed(original, { ip: '127.0.0.3', helo: 'mail.sender.test', sender: 'alice@sender.test' }, { domain: 'example.test', selector: 'mx1', privateKey: relayDkimKey() }, resolver);
    const srsSender = 'SRS0=abcd=AA=sender.test=alice@example.test';
    const message = await receiveWhile(local.endpoints.inbox.url, (m) => m.subject === subject, () =>
      send({ host: inbox.host, port: inbox.port, localAddress: '127.0.0.1', ca: inbox.ca, envelope: { from: srsSender, to: ['someone@inbox.test'] }, raw: sealed }),
    );
    expect(message.verdicts.arc).toMatchObject({ result: 'pass', detail: expect.stringMatching(/^1 set/) });
    expect(message.verdicts.spf.result).toBe('pass');
    expect(message.verdicts.dkim).toMatchObject({ result: 'pass', detail: expect.stringContaining('d=sender.test') });
    expect(message.verdicts.dmarc.result).toBe('pass');
  });

  it('through the relay: a message submitted with STARTTLS and AUTH reaches the inbox with dkim, spf and dmarc pass over TLS', async () => {
    const { endpoints } = local;
    const { raw, subject } = plainMessage(endpoints.user.address, 'someone@inbox.test', 'submitted');
    const message = await receiveWhile(endpoints.inbox.url, (m) => m.subject === subject, () =>
      submitAsDemo(raw),
    );
    expect(message.envelope).toEqual({ mailFrom: 'demo@example.test', rcptTo: ['someone@inbox.test'] });
    expect(message.client.ip).toBe('127.0.0.1');
    expect(message.verdicts.dkim).toMatchObject({ result: 'pass', detail: expect.stringContaining('d=example.test s=mx1') });
    expect(message.verdicts.spf.result).toBe('pass');
    expect(message.verdicts.dmarc.result).toBe('pass');
    expect(message.tls).not.toBeNull();
    // The inbox's filter (rspamd) scores it like a receiving provider would, well below "add header".
    expect(message.spam).toEqual({ score: expect.any(Number), action: 'no action', symbols: expect.arrayContaining([expect.objectContaining({ name: expect.any(String) })]) });
  });

  it('through the relay: GTUBE from the demo user is refused at DATA with 550 5.7.1 by rspamd', async () => {
    const { endpoints } = local;
    const { raw } = plainMessage(endpoints.user.address, 'someone@inbox.test', 'gtube');
    const refusal = await submitAsDemo(raw.replace('Sent by the mxkit local end-to-end test.', 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X')).then(
      () => 'accepted',
      (error: { response?: string }) => error.response,
    );
    expect(refusal).toBe('550 5.7.1 Message rejected as spam: Gtube pattern');
  });

  it("through the relay: the inbox page links a message to its trace on the relay's ops listener, which shows how it was delivered", async () => {
    const { endpoints } = local;
    const { raw, subject } = plainMessage(endpoints.user.address, 'someone@inbox.test', 'traced');
    const message = await receiveWhile(endpoints.inbox.url, (m) => m.subject === subject, () =>
      submitAsDemo(raw),
    );
    expect(message.queueId).toMatch(/^[0-9A-Z]{19}$/);
    const page = await fetchText(endpoints.inbox.url);
    const link = new RegExp(`<tr data-id="${message.id}">.*<a href="(http://127\\.0\\.0\\.1:\\d+/trace/${message.queueId})">trace ${message.queueId}</a>`).exec(page.body)?.[1];
    expect(link).toBeDefined();
    // The relay writes "delivered" once the inbox's 250 reaches it, just after the inbox stored the message.
    let trace = await fetchText(link as string);
    for (let tries = 0; tries < 50 && !trace.body.includes('finished: removed from the queue'); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      trace = await fetchText(link as string);
    }
    expect(trace.status).toBe(200);
    expect(trace.body).toMatch(/received from &#60;demo@example\.test&#62; \(user demo, submission, 127\.0\.0\.1\) for &#60;someone@inbox\.test&#62;/);
    expect(trace.body).toMatch(/delivered &#60;someone@inbox\.test&#62; via mx\.inbox\.test \[127\.0\.0\.2\], TLS: 250 2\.0\.0 Ok: queued as /);
  });

  it('through the relay: mail to postmaster@example.test from a third domain is forwarded with an SRS sender and a valid ARC chain', async () => {
    const { endpoints } = local;
    const { raw, subject } = plainMessage('alice@sender.test', 'postmaster@example.test', 'inbound');
    const signed = await dkimSigned(raw, 'sender.test', 's1', stateFile(stateDir, 'sender-dkim.key'));
    const message = await receiveWhile(endpoints.inbox.url, (m) => m.subject === subject, () =>
      send({ host: endpoints.mx.host, port: endpoints.mx.port, localAddress: '127.0.0.3', envelope: { from: 'alice@sender.test', to: ['postmaster@example.test'] }, raw: signed }),
    );
    expect(message.envelope.rcptTo).toEqual(['someone@inbox.test']);
    expect(message.envelope.mailFrom).toMatch(/^SRS0[=+-][^@]*=sender\.test=alice@example\.test$/i);
    expect(message.verdicts.spf.result).toBe('pass');
    expect(message.verdicts.arc.result).toBe('pass');
    expect(message.verdicts.dkim).toMatchObject({ result: 'pass', detail: expect.stringContaining('d=sender.test') });
    expect(message.verdicts.dmarc.result).toBe('pass');
    const source = await rawSource(endpoints.inbox.url, message.id);
    expect(source.body).toMatch(/ARC-Seal: i=1; [^\r]*cv=none/);
  });

  it('through the relay: a message without Date and Message-ID (the banner\'s python3 command) arrives with both, and SpamAssassin scores it at most 0', async () => {
    const { endpoints } = local;
    const subject = `no date ${Date.now()}`;
    const message = await receiveWhile(endpoints.inbox.url, (m) => m.subject === subject, () =>
      submitAsDemo(`From: ${endpoints.user.address}\r\nTo: someone@inbox.test\r\nSubject: ${subject}\r\n\r\nIt works.\r\n`),
    );
    const source = (await rawSource(endpoints.inbox.url, message.id)).body;
    expect(source).toMatch(/\r\nDate: [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000\r\n/);
    expect(source).toMatch(/\r\nMessage-ID: <[0-9A-Z]+\.[0-9a-f]{12}@example\.test>\r\n/);
    // SpamAssassin with local tests only (-L: no network), as a receiving provider's filter would run it.
    const scored = await run('spamassassin', ['-t', '-L'], source);
    const score = Number(/^X-Spam-Status: \w+, score=(-?[\d.]+)/m.exec(scored.stdout)?.[1]);
    expect(scored.stdout).not.toMatch(/MISSING_DATE|MISSING_MID|RDNS_NONE/);
    expect(score).toBeLessThanOrEqual(0);
  });

  it('publishes the relay submission ports as _submissions._tcp and _submission._tcp SRV records (RFC 6186)', async () => {
    const resolver = dnsResolver(local.endpoints);
    expect(await resolver.resolveSrv('_submissions._tcp.example.test')).toEqual([{ name: 'mail.example.test', port: local.endpoints.submissions.port, priority: 0, weight: 1 }]);
    expect(await resolver.resolveSrv('_submission._tcp.example.test')).toEqual([{ name: 'mail.example.test', port: local.endpoints.submission.port, priority: 0, weight: 1 }]);
  });

  it("through the relay: the inbox's Received line names the relay by its verified reverse DNS, as a real receiver's does", async () => {
    const { endpoints } = local;
    const { raw, subject } = plainMessage(endpoints.user.address, 'someone@inbox.test', 'rdns');
    const message = await receiveWhile(endpoints.inbox.url, (m) => m.subject === subject, () =>
      submitAsDemo(raw),
    );
    expect(message.client).toMatchObject({ ip: '127.0.0.1', rdns: 'mail.example.test' });
    const source = await rawSource(endpoints.inbox.url, message.id);
    expect(source.body).toMatch(/^Received: from mail\.example\.test \(mail\.example\.test \[127\.0\.0\.1\]\)\r\n\tby mx\.inbox\.test /);
  });

  it('through the relay: an unsigned message forwarded from a third party arrives with dmarc=fail and arc=pass, and the page says why', async () => {
    const { endpoints } = local;
    const { raw, subject } = plainMessage('alice@sender.test', 'postmaster@example.test', 'forwarded unsigned');
    const message = await receiveWhile(endpoints.inbox.url, (m) => m.subject === subject, () =>
      send({ host: endpoints.mx.host, port: endpoints.mx.port, localAddress: '127.0.0.3', envelope: { from: 'alice@sender.test', to: ['postmaster@example.test'] }, raw }),
    );
    expect(message.verdicts.dmarc.result).toBe('fail');
    expect(message.verdicts.arc.result).toBe('pass');
    const page = await fetch(endpoints.inbox.url).then((response) => response.text());
    const note = new RegExp(`<tr class="note" data-note-for="${message.id}"><td colspan="7">Forwarded by the relay[^<]*dmarc=fail is expected here[^<]*arc=pass is what makes it deliverable`);
    expect(page).toMatch(note);
  });

  it('through the relay: mail to a domain the local DNS does not know is reported in the terminal as deferred, with the next try', async () => {
    const { endpoints } = local;
    const { raw } = plainMessage(endpoints.user.address, 'nobody@nowhere.invalid', 'undeliverable');
    await submitAsDemo(raw, ['nobody@nowhere.invalid']);
    await local.waitForOutput(/relay: \S+ waits in the queue for <nobody@nowhere\.invalid>; next try at /);
    const output = local.output();
    expect(output).toMatch(/relay: (\S+) to <nobody@nowhere\.invalid> deferred: dns 4\.4\.3 /);
    expect(output).toContain('nowhere.invalid is not a domain the local DNS knows (example.test, inbox.test, sender.test)');
    expect(output).toMatch(/queue remove \S+ --config /);
  });

  it('lists every received message on its JSON endpoint, newest first', async () => {
    const messages = await inboxMessages(local.endpoints.inbox.url);
    expect(messages.length).toBeGreaterThanOrEqual(3);
    const times = messages.map((m) => m.receivedAt);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('stops on SIGTERM with exit code 0, every child process gone and endpoints.json removed', async () => {
    expect(processesMentioning(stateDir).length).toBeGreaterThanOrEqual(2);
    const rspamdUrl = local.endpoints.rspamd?.url ?? '';
    expect(await fetch(`${rspamdUrl}/ping`).then((response) => response.text())).toMatch(/^pong/);
    const code = await local.stop();
    expect(code).toBe(0);
    expect(processesMentioning(stateDir)).toEqual([]);
    // rspamd renames its processes ("rspamd: main process"), so ask its port: nobody answers.
    await expect(fetch(`${rspamdUrl}/ping`)).rejects.toThrow();
    expect(local.output()).toContain('mxkit local: stopped');
    expect(() => stateFile(stateDir, 'endpoints.json')).toThrow(/ENOENT/);
  });
});
