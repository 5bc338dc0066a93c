// The double opt-in widget in a real headless Chromium: it renders, the consent box starts
// unticked, the browser refuses to submit without it, a sign-up shows the confirmation hint.
// Usage: node widget.mjs [path/to/hafen]  (default: ../../target/debug/hafen)
// Screenshots go to docs/ when HAFEN_SCREENSHOTS=1.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(process.argv[2] ?? join(here, '../../target/debug/hafen'));
const docs = resolve(here, '../../docs');
const data = mkdtempSync(join(tmpdir(), 'hafen-browser-'));
let server;
let failures = 0;
let passed = 0;

function check(condition, what) {
  if (condition) { passed++; console.log(`ok - ${what}`); } else { failures++; console.log(`FAILED - ${what}`); }
}

async function waitFor(fn, what, tries = 200) {
  for (let i = 0; i < tries; i++) {
    try { const v = await fn(); if (v) return v; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

try {
  // Loopback only: the platform API points at a closed local port, so no traffic leaves.
  const env = { ...process.env, HAFEN_DATA_DIR: join(data, 'd'), HAFEN_LISTEN: '127.0.0.1:0',
                HAFEN_WHATSAPP_API_BASE: 'http://127.0.0.1:9', HAFEN_LOG_FORMAT: 'json', HAFEN_RETRY_INTERVAL_SECS: '0' };
  const token = execFileSync(bin, ['init'], { env }).toString().trim();
  server = spawn(bin, ['serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr.on('data', (d) => { log += d.toString(); });
  const port = await waitFor(() => (log.match(/"port":(\d+)/) ?? [])[1], 'the server to listen');
  const base = `http://127.0.0.1:${port}`;
  const api = async (method, path, body) => {
    const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  const tenant = await api('POST', '/v1/tenants', { name: 'Muster GmbH' });
  await api('POST', `/v1/tenants/${tenant.id}/channels`, { platform: 'whatsapp', name: 'Service', account_id: '106540352242922',
    secrets: { app_secret: 'widget-app-secret-7f3a9c1e5b2d', verify_token: 'v', access_token: 't' } });
  const purpose = await api('POST', `/v1/tenants/${tenant.id}/consent-purposes`, {
    name: 'Newsletter',
    texts: { de: 'Ja, ich möchte den Newsletter der Muster GmbH per WhatsApp erhalten (etwa zwei Nachrichten im Monat). Ich kann mich jederzeit mit STOP abmelden.' },
    confirm_template: 'newsletter_optin',
    widget: { title: 'Newsletter per WhatsApp', intro: 'Neuigkeiten und Angebote direkt aufs Handy.', color: '#005f73', privacy_url: 'https://www.muster.de/datenschutz' },
  });

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const page = await browser.newPage({ viewport: { width: 520, height: 640 } });
  await page.goto(`${base}/w/${tenant.id}/${purpose.id}`);
  check(await page.locator('h1').textContent() === 'Newsletter per WhatsApp', 'the widget renders its title');
  check(!(await page.isChecked('input[name=consent]')), 'the consent box starts unticked');
  if (process.env.HAFEN_SCREENSHOTS) await page.screenshot({ path: join(docs, 'widget-signup.png') });

  await page.fill('input[name=phone]', '+49 151 23456789');
  await page.click('button[type=submit]');
  check(page.url().endsWith(`/w/${tenant.id}/${purpose.id}`) && await page.locator('#done').count() === 0,
        'without the tick the browser does not submit');
  await page.check('input[name=consent]');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  const done = await page.locator('#done').textContent();
  check(done && done.includes('Antworten Sie mit JA'), 'after submitting, the confirmation hint is shown');
  if (process.env.HAFEN_SCREENSHOTS) await page.screenshot({ path: join(docs, 'widget-confirmation.png') });
  check(await page.getAttribute('html', 'lang') === 'de', 'the German page is marked German');

  // In English the page says so (screen readers choose their voice by it) and answers in English.
  const en = await browser.newPage({ viewport: { width: 520, height: 640 } });
  await en.goto(`${base}/w/${tenant.id}/${purpose.id}?lang=en`);
  check(await en.getAttribute('html', 'lang') === 'en' && (await en.locator('button[type=submit]').textContent()) === 'Sign up',
        'the English page is marked English and speaks it');
  await en.fill('input[name=phone]', '12');
  await en.check('input[name=consent]');
  await Promise.all([en.waitForNavigation(), en.click('button[type=submit]')]);
  check((await en.locator('[role=alert]').textContent()).includes('international format') && await en.inputValue('input[name=phone]') === '12',
        'a refused number is explained in English and stays in the field');
  if (process.env.HAFEN_SCREENSHOTS) await en.screenshot({ path: join(docs, 'widget-refused-en.png') });
  await browser.close();

  const contacts = await (await fetch(`${base}/v1/tenants/${tenant.id}/contacts`, { headers: { authorization: `Bearer ${token}` } })).json();
  const consents = await (await fetch(`${base}/v1/tenants/${tenant.id}/contacts/${contacts.items[0].id}/consents`, { headers: { authorization: `Bearer ${token}` } })).json();
  check(consents[0].state === 'requested' && consents[0].history[0].source === 'widget', 'the sign-up is recorded as a widget request');
  check((consents[0].history[0].evidence.user_agent ?? '').includes('Chrome'), 'the browser\'s user agent is part of the evidence');
} catch (e) {
  failures++;
  console.log(`FAILED - ${e.stack ?? e}`);
} finally {
  if (server) server.kill();
  rmSync(data, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
