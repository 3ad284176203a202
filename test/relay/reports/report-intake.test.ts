import { getLocal as get } from '../../helpers/http';
import type { Transporter } from 'nodemailer';
import { BUNDLE } from '../../helpers/child-relay';
import { dmarcXml, gzip, reportMessage, tlsRptJson, zip, type Attachment, type DmarcRowFixture } from '../../helpers/report-fixtures';
import { run } from '../../helpers/run';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { relayTransport } from '../../helpers/submit';
import { startDeliveryEnv, type DeliveryEnv } from '../delivery/env';

interface Summary {
  counts: Record<string, Record<string, number>>;
  dmarc: Array<{ domain: string; reports: number; messages: number; dmarcPass: number; days: unknown[]; sources: Array<{ ip: string; messages: number; spfPass: number; dkimPass: number; dmarcPass: number }>; advice: { canTighten: boolean; command?: string; line: string } }>;
  tlsRpt: Array<{ domain: string; success: number; failure: number; failures: Array<{ resultType: string; count: number }> }>;
}

const DAY_SECONDS = 86_400;

describe('DMARC and TLS-RPT reports received by the relay itself', () => {
  let env: DeliveryEnv;
  const queued: string[] = [];
  let mx: Transporter;

  /** Delivers a report to the relay's mx listener, as a receiver's reporting system would. */
  const deliver = async (to: string, attachment: Attachment | undefined, subject = 'Report domain: example.test') => {
    const raw = reportMessage({ from: 'noreply-dmarc-support@google.com', to, subject, ...(attachment ? { attachment } : {}) });
    const info = await mx.sendMail({ envelope: { from: 'noreply-dmarc-support@google.com', to: [to] }, raw });
    const id = /queued as ([0-9A-Z]+)/.exec(String(info.response))?.[1] as string;
    queued.push(id);
    return id;
  };

  beforeAll(async () => {
    env = await startDeliveryEnv({
      configure: (config) => {
        config.reports = { dmarc: ['dmarc-reports@example.test'], tlsRpt: ['tls-reports@example.test'], complaints: ['abuse@example.test'] };
      },
    });
    mx = relayTransport(env.relay, { listener: 'mx' });
    // A week of daily reports from our own IP, all passing but 1 message of 71: gzip (as Google
    // and Microsoft send them), zip (as Yahoo does) and plain XML.
    const today = Math.floor(Date.now() / 1000 / DAY_SECONDS) * DAY_SECONDS;
    for (let day = 7; day >= 1; day--) {
      const rows: DmarcRowFixture[] = [{ ip: '127.0.0.1', count: 10, dkim: 'pass', spf: 'pass' }];
      if (day === 3) rows.push({ ip: '203.0.113.9', count: 1, dkim: 'fail', spf: 'fail' });
      const xml = dmarcXml({ reportId: `week-${day}`, begin: today - day * DAY_SECONDS, rows });
      const attachment: Attachment =
        day === 7 ? { type: 'application/zip', filename: `yahoo.com!example.test!${day}.zip`, data: zip(`yahoo.com!example.test!${day}.xml`, Buffer.from(xml)) }
        : day === 6 ? { type: 'text/xml', filename: `report-${day}.xml`, data: Buffer.from(xml) }
        : { type: 'application/gzip', filename: `google.com!example.test!${day}.xml.gz`, data: gzip(xml) };
      await deliver('dmarc-reports@example.test', attachment);
    }
    // The same report again (reporters retry): stored once.
    await deliver('dmarc-reports@example.test', { type: 'application/gzip', filename: 'again.xml.gz', data: gzip(dmarcXml({ reportId: 'week-1', begin: today - DAY_SECONDS, rows: [{ ip: '127.0.0.1', count: 10, dkim: 'pass', spf: 'pass' }] })) });
    // Empty and malformed ones.
    await deliver('dmarc-reports@example.test', undefined, 'no attachment');
    await deliver('dmarc-reports@example.test', { type: 'application/gzip', filename: 'empty.xml.gz', data: gzip('') });
    await deliver('dmarc-reports@example.test', { type: 'text/xml', filename: 'cut.xml', data: Buffer.from('<feedback><report_metadata><org_name>x') });
    await deliver('dmarc-reports@example.test', { type: 'application/gzip', filename: 'corrupt.xml.gz', data: Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]) });
    await deliver('dmarc-reports@example.test', { type: 'text/xml', filename: 'lolz.xml', data: Buffer.from('<!DOCTYPE a [<!ENTITY a "aaaa">]><feedback>&a;</feedback>') });
    // TLS-RPT: one good (gzip, RFC 8460 5.3), one broken.
    await deliver('tls-reports@example.test', { type: 'application/tlsrpt+gzip', filename: 'google.com!example.test!1!2!001.json.gz', data: gzip(tlsRptJson({ reportId: 'tls-1', success: 120, failures: [{ type: 'starttls-not-supported', count: 3 }] })) }, 'Report Domain: example.test Submitter: google.com');
    await deliver('tls-reports@example.test', { type: 'application/tlsrpt+json', filename: 'broken.json', data: Buffer.from('{"policies": [') });
    await Promise.all(queued.map((id) => env.waitForEvent('finished', (event) => event.id === id)));
  }, 60_000);

  afterAll(async () => {
    mx.close();
    await env.stop();
  });

  it('stores them instead of forwarding them, and keeps running whatever they contain', async () => {
    expect(env.remote.messages).toHaveLength(0);
    expect(env.home.messages).toHaveLength(0);
    const local = env.events.filter((event) => event.name === 'delivered' && event.payload.remoteMta === 'local');
    expect(local).toHaveLength(queued.length);
    expect((await get(env.relay.port('http'), '/readyz')).status).toBe(200);
    const metrics = await env.relay.relay.metrics.registry.getSingleMetricAsString('mxkit_reports_received_total');
    expect(metrics).toMatch(/\{kind="dmarc",result="stored"\} 7/);
    expect(metrics).toMatch(/\{kind="dmarc",result="duplicate"\} 1/);
    expect(metrics).toMatch(/\{kind="dmarc",result="empty"\} 2/);
    expect(metrics).toMatch(/\{kind="dmarc",result="malformed"\} 3/);
    expect(metrics).toMatch(/\{kind="tlsRpt",result="stored"\} 1/);
    expect(metrics).toMatch(/\{kind="tlsRpt",result="malformed"\} 1/);
  });

  it('accepts report addresses on mx without a route, and still refuses other unknown addresses', async () => {
    const dialog = await SmtpDialog.open(env.relay.port('mx'));
    try {
      await dialog.greet();
      expect((await dialog.command('MAIL FROM:<noreply@reporter.test>')).code).toBe(250);
      expect((await dialog.command('RCPT TO:<DMARC-Reports@example.test>')).code).toBe(250);
      expect((await dialog.command('RCPT TO:<tls-reports@example.test>')).code).toBe(250);
      const unknown = await dialog.command('RCPT TO:<nobody@example.test>');
      expect(unknown.code).toBe(550);
      expect(unknown.text).toMatch(/^5\.1\.1 /);
    } finally {
      dialog.close();
    }
  });

  it('mxkit reports shows sources by IP with SPF, DKIM and alignment, the counts, and that the policy can be tightened', async () => {
    const text = await run(process.execPath, [BUNDLE, 'reports', '--config', env.relay.configPath]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/DMARC aggregate: 7 stored, 2 empty, 3 malformed/);
    expect(text.stdout).toMatch(/TLS-RPT: 1 stored, 0 empty, 1 malformed/);
    expect(text.stdout).toMatch(/DMARC for example\.test: 7 reports from google\.com; 71 messages, 98\.6% pass/);
    expect(text.stdout).toMatch(/^ {2}127\.0\.0\.1 +70 +100\.0% +100\.0% +100\.0%$/m);
    expect(text.stdout).toMatch(/^ {2}203\.0\.113\.9 +1 +0\.0% +0\.0% +0\.0%$/m);
    expect(text.stdout).toMatch(/Can the DMARC policy be tightened\? Yes: .*pulumi config set mxkit:dmarcPolicy quarantine/);
    expect(text.stdout).toMatch(/TLS-RPT for example\.test: 1 reports; 120 sessions succeeded, 3 failed\n {2}starttls-not-supported: 3/);
    expect(text.stdout).toMatch(/dmarc malformed from <noreply-dmarc-support@google\.com>: not well-formed XML/);
    const json = JSON.parse((await run(process.execPath, [BUNDLE, 'reports', '--json', '--config', env.relay.configPath])).stdout) as Summary;
    expect(json.dmarc[0]).toMatchObject({ domain: 'example.test', reports: 7, messages: 71, dmarcPass: 70, advice: { canTighten: true, command: 'pulumi config set mxkit:dmarcPolicy quarantine' } });
    expect(json.dmarc[0].days).toHaveLength(7);
    expect(json.tlsRpt[0]).toMatchObject({ domain: 'example.test', success: 120, failure: 3 });
  });

  it('shows the same on a page of the ops listener, with the command to run', async () => {
    const page = await get(env.relay.port('http'), '/reports');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<strong>Can the DMARC policy be tightened\?<\/strong> Yes: /);
    expect(page.body).toContain('<code>pulumi config set mxkit:dmarcPolicy quarantine</code>');
    expect(page.body).toMatch(/<tr><td>127\.0\.0\.1<\/td><td class="num">70<\/td>/);
    expect(page.body).toMatch(/<tr data-kind="dmarc"><td>DMARC aggregate<\/td><td class="num">7<\/td><td class="num">2<\/td><td class="num">3<\/td>/);
    expect(page.body).not.toMatch(/<script/);
  });
});
