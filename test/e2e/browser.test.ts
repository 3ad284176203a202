/**
 * The inbox page in a real browser: headless Debian Chromium driven by playwright-core. The mail
 * goes straight to the inbox MTA (DKIM-signed with the local key), so this test is about the page,
 * not about delivery: the message and its verdicts are shown, the raw source opens, a new arrival
 * appears without a manual reload, and message text never becomes markup.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { receiveWhile } from './helpers/inbox';
import { startLocal, type LocalRun } from './helpers/local-process';
import { dkimSigned, inboxMx, plainMessage, send, stateFile } from './helpers/mail';

const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps trying to reach Google, which this closed network refuses.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let local: LocalRun;
let stateDir: string;
let browser: Browser;
let page: Page;

/** Sends a message signed as example.test directly to the inbox MTA; resolves once it is stored. */
async function deliverToInbox(raw: string, subject: string): Promise<void> {
  const inbox = await inboxMx(local.endpoints, stateDir);
  const signed = await dkimSigned(raw, 'example.test', 'mx1', stateFile(stateDir, 'dkim.key'));
  await receiveWhile(local.endpoints.inbox.url, (m) => m.subject === subject, () =>
    send({ host: inbox.host, port: inbox.port, localAddress: '127.0.0.1', ca: inbox.ca, envelope: { from: 'demo@example.test', to: ['someone@inbox.test'] }, raw: signed }),
  );
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'mxkit-browser-'));
  local = await startLocal(stateDir);
  // Playwright gives every launch a fresh, empty profile directory of its own.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

// A page per test: an open inbox page reloads itself on every arrival, which would race the next test's navigation.
beforeEach(async () => {
  page = await browser.newPage();
});
afterEach(() => page.close());

afterAll(async () => {
  await browser?.close();
  await local?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('the inbox page in Chromium', () => {
  it('shows a received message with its sender, subject, TLS and verdicts, and opens its raw source', async () => {
    const { raw, subject } = plainMessage('demo@example.test', 'someone@inbox.test', 'browser');
    await deliverToInbox(raw, subject);
    await page.goto(local.endpoints.inbox.url);
    const row = page.locator('tr', { hasText: subject });
    await row.waitFor();
    expect(await row.locator('td.message .from').textContent()).toBe('demo@example.test');
    expect(await row.locator('.tls').textContent()).toMatch(/^TLSv1\.[23]$/);
    for (const check of ['spf', 'dkim', 'dmarc']) {
      expect(await row.locator(`td[data-check="${check}"] .result`).textContent()).toBe(`${check}=pass`);
    }
    // The details are on the page, not in a tooltip.
    expect(await row.locator('td[data-check="dkim"] .detail').textContent()).toContain('d=example.test s=mx1');
    expect(await row.locator('td[data-check="dkim"] .detail').isVisible()).toBe(true);
    // rspamd's score and action, and its symbols one click away.
    expect(await row.locator('td[data-check="spam"] .score').textContent()).toMatch(/^-?\d+\.\d\d$/);
    expect(await row.locator('td[data-check="spam"]').textContent()).toContain('no action');
    await row.locator('td[data-check="spam"] summary').click();
    expect(await row.locator('td[data-check="spam"] ul.symbols li').first().isVisible()).toBe(true);

    await row.getByRole('link', { name: 'raw source' }).click();
    await page.waitForURL(/\/messages\/[^/]+\/raw$/);
    const source = await page.locator('body').textContent();
    expect(source).toContain(`Subject: ${subject}`);
    expect(source).toContain('DKIM-Signature: ');
    expect(source).toMatch(/Authentication-Results: mx\.inbox\.test;[\s\S]*spf=pass/);
  });

  it('fits a 1280 px wide window with long addresses and subjects, every verdict detail visible without hovering', async () => {
    const longName = 'a-rather-long-local-part-that-goes-on-and-on.and-on';
    const { raw, subject } = plainMessage(`${longName}@example.test`, `${longName}@inbox.test`, `wide ${'lengthy-subject-word '.repeat(12)}`);
    await deliverToInbox(raw.replace(/^From: .*$/m, `From: "Someone With A Very Long Display Name Indeed" <${longName}@example.test>`), subject);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(local.endpoints.inbox.url);
    const row = page.locator('tr', { hasText: subject.slice(0, 40) });
    await row.waitFor();
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(1280);
    for (const check of ['spf', 'dkim', 'dmarc', 'arc']) {
      const detail = row.locator(`td[data-check="${check}"] .detail`);
      expect(await detail.isVisible()).toBe(true);
      const box = await detail.boundingBox();
      expect(box && box.x + box.width).toBeLessThanOrEqual(1280);
    }
  });

  it('shows a message that arrives while the page is open, without a manual reload', async () => {
    await page.goto(local.endpoints.inbox.url);
    // The page's event stream must be connected before the message arrives.
    await page.locator('body[data-live="on"]').waitFor();
    const { raw, subject } = plainMessage('demo@example.test', 'someone@inbox.test', 'live');
    await deliverToInbox(raw, subject);
    await page.locator('tr', { hasText: subject }).waitFor();
  });

  it('shows markup in a subject as text, never as part of the page', async () => {
    const { raw, subject } = plainMessage('demo@example.test', 'someone@inbox.test', '<b id="injected">bold</b>');
    await deliverToInbox(raw, subject);
    await page.goto(local.endpoints.inbox.url);
    await page.locator('td.message .subject', { hasText: subject }).waitFor();
    expect(await page.locator('#injected').count()).toBe(0);
  });
});
