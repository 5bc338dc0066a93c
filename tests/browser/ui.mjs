// The web interface end to end in a real headless Chromium: sign in, create a tenant and a
// channel (webhook URL shown), write a retention rule and see its dry-run preview, activate
// it, download a PDF report, run an access export; plus the language switch, the widget's
// live preview, the audit chain check, and no CSP violation on any page.
// Usage: node ui.mjs [path/to/hafen]  (default: ../../target/debug/hafen)
// Screenshots of every main page go to docs/ui/ when HAFEN_SCREENSHOTS=1.
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(process.argv[2] ?? join(here, '../../target/debug/hafen'));
const shots = resolve(here, '../../docs/ui');
const data = mkdtempSync(join(tmpdir(), 'hafen-ui-'));
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

// English that must not appear on a German page: the words people met there before (codes,
// request kinds and states, platform errors, validation messages). Text in <code> and in
// elements marked lang="en" (a platform's own words, shown as a technical detail) is exempt.
const ENGLISH = /\b(the|and|must|invalid|error|failed|could not|not found|Secrets?|access|portability|erasure|restriction|open|completed|rejected|collection|conversation_end|relationship_end|consent_withdrawal|message_content|message_metadata|delivery_statuses|webhook_logs|keep|Retention|Channel|Contact|Request|Preview|Connection|Proposed|EOY|P\d+[YMD])\b/;
const germanPages = [];

async function german(page, name) {
  const lang = await page.evaluate(() => document.documentElement.lang);
  if (lang !== 'de') return;
  const text = await page.evaluate(() => {
    const main = document.querySelector('main').cloneNode(true);
    for (const el of main.querySelectorAll('code, [lang="en"], option:not(:checked)')) el.remove();
    return main.innerText;
  });
  const found = text.match(ENGLISH);
  if (found) console.log(`  English on the German page ${name}: "${found[0]}" in …${text.slice(Math.max(0, found.index - 60), found.index + 60).replace(/\s+/g, ' ')}…`);
  germanPages.push([name, found ? found[0] : null]);
}

// German that must not appear on an English page. Text people wrote (form fields, and text
// marked .typed such as a rule's legal basis) stays in the language it was written in.
const GERMAN = /\b(und|der|die|das|nicht|wird|werden|Bitte|keine|Fehler|Kanal|Kanäle|Mandanten?|Löschung|Löschregeln|Einwilligungs?|Anfragen?|Speichern|Zustellung|Übersicht|Aufbewahrung|Verantwortliche[rn]?|gelöscht|Frist|Auskunft|Sperre|Benutzer|Abmelden)\b/;
const englishPages = [];

async function english(page, name) {
  const text = await page.evaluate(() => {
    const main = document.querySelector('main').cloneNode(true);
    for (const el of main.querySelectorAll('code, [lang="de"], .typed, input, textarea, option:not(:checked)')) el.remove();
    return main.innerText;
  });
  const found = text.match(GERMAN);
  if (found) console.log(`  German on the English page ${name}: "${found[0]}" in …${text.slice(Math.max(0, found.index - 60), found.index + 60).replace(/\s+/g, ' ')}…`);
  englishPages.push([name, found ? found[0] : null]);
}

// Fields that would ask a person for one of Hafen's ids: none may be visible.
const ID_FIELD = /^(contact|tenant|hold|request|user|token|rule|purpose)_?id$/;
const asksForIds = [];

// Opens every page the navigation offers, in the page's language, checks its words and that
// it asks for no id, and (with HAFEN_SCREENSHOTS and `save`) saves each as
// `<prefix><page><suffix>.png`.
async function walk(page, prefix, suffix, save = true) {
  const links = await page.evaluate(() => [...document.querySelectorAll('nav.main a')].map((a) => a.getAttribute('href')));
  const lang = await page.evaluate(() => document.documentElement.lang);
  for (const href of links) {
    await page.goto(new URL(href, page.url()).href);
    const name = `${prefix}${href.split('/').pop()}${suffix}`;
    const ids = await page.evaluate((re) => [...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea')]
      .map((f) => f.name).filter((n) => new RegExp(re).test(n)), ID_FIELD.source);
    if (ids.length) asksForIds.push(`${name}: ${ids.join(', ')}`);
    if (lang === 'en') await english(page, name); else await german(page, name);
    if (save && process.env.HAFEN_SCREENSHOTS) {
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    }
  }
  return links;
}

// Follows a link in the main navigation and waits for the page it leads to, so nothing reads
// the page while the browser is still between two documents.
async function open(page, label) {
  await Promise.all([page.waitForNavigation(), page.click(`nav.main >> text=${label}`)]);
}

async function shot(page, name) {
  await german(page, name);
  if (!process.env.HAFEN_SCREENSHOTS) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

const PASSWORD = 'Leuchtturm am Hafen 2026';

// A stand-in for WhatsApp's Cloud API: records what is sent, accepts every message, and refuses
// every credential check (so testing a connection shows the refusal in words).
const sentToPlatform = [];
const platform = createServer((req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    if (req.method === 'POST') {
      sentToPlatform.push(JSON.parse(body || '{}'));
      res.end(JSON.stringify({ messaging_product: 'whatsapp', messages: [{ id: `wamid.UI${sentToPlatform.length}` }] }));
    } else {
      res.statusCode = 401;
      res.end(JSON.stringify({ error: { message: 'Invalid OAuth access token.', type: 'OAuthException', code: 190 } }));
    }
  });
});
await new Promise((r) => platform.listen(0, '127.0.0.1', r));

try {
  const env = { ...process.env, HAFEN_DATA_DIR: join(data, 'd'), HAFEN_LISTEN: '127.0.0.1:0',
                HAFEN_WHATSAPP_API_BASE: `http://127.0.0.1:${platform.address().port}`, HAFEN_LOG_FORMAT: 'json', HAFEN_RETRY_INTERVAL_SECS: '0' };
  const token = execFileSync(bin, ['init'], { env }).toString().trim();
  execFileSync(bin, ['user', 'add', '--login', 'admin@muster.de', '--role', 'admin'], { env, input: `${PASSWORD}\n` });
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

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true, locale: 'de-DE' });
  const page = await context.newPage();
  const violations = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused to/.test(m.text())) violations.push(m.text()); });
  page.on('pageerror', (e) => violations.push(String(e)));

  // Sign in: a wrong password is refused with the same message a locked name gets.
  await page.goto(`${base}/ui/`);
  check(page.url().endsWith('/ui/sign-in'), 'without a session /ui/ leads to the sign-in page');
  await shot(page, 'sign-in');
  await page.fill('#login', 'admin@muster.de');
  await page.fill('#password', 'not the password');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  check((await page.locator('p.error').textContent()).includes('Anmeldung fehlgeschlagen'), 'a wrong password is refused');
  await page.fill('#login', 'admin@muster.de');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  check(page.url().endsWith('/ui/dashboard'), 'the right password signs in');
  const session = (await context.cookies()).find((c) => c.name === 'hafen_session');
  check(session && session.httpOnly && session.sameSite === 'Strict' && session.path === '/ui', 'the session cookie is HttpOnly, SameSite=Strict, Path=/ui');

  // A tenant and a channel; the channel page shows the webhook URL to enter at Meta.
  await open(page, 'Mandanten');
  await page.fill('#tenant-name', 'Muster GmbH');
  await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
  const tenantId = page.url().match(/\/ui\/t\/([0-9a-f-]+)\/channels/)?.[1];
  check(tenantId, 'creating a tenant opens its channel page');
  await page.selectOption('#c-platform', 'whatsapp');
  await page.fill('#c-name', 'WhatsApp Kundenservice');
  await page.fill('#c-account', '106540352242922');
  await page.fill('#c-app', 'app-secret-e2e-7f3a9c1e5b2d');
  await page.fill('#c-verify', 'verify-e2e');
  await page.fill('#c-access', 'access-e2e');
  await Promise.all([page.waitForNavigation(), page.click('text=Kanal verbinden >> nth=-1')]);
  const hook = await page.locator('input.copy').first().inputValue();
  check(hook.startsWith(base) && hook.includes('/hooks/whatsapp/'), `the channel shows its webhook URL (${hook})`);
  check((await page.locator('#no-public-url').textContent()).includes('public_url'), 'without public_url the page warns that the URL is the one it was opened at');
  await Promise.all([page.waitForNavigation(), page.click('text=Verbindung testen')]);
  check((await page.locator('p.notice[role=status]').textContent()).includes('Zugangsdaten abgewiesen'), 'testing the connection says in words that the platform refused the credentials');
  await shot(page, 'channels');

  // Messages to have something to preview, export and show (through the API, as a system would).
  const msg = (body, day) => ({ contact: { channel: 'whatsapp', address: '+49 151 23456789', display_name: 'Erika Mustermann' },
    direction: 'in', occurred_at: `2026-0${day}-10T10:00:00Z`, kind: 'text', body });
  const first = await api('POST', `/v1/tenants/${tenantId}/messages`, msg('Guten Tag, ich habe eine Frage zur Rechnung.', 1));
  await api('POST', `/v1/tenants/${tenantId}/messages`, msg('Danke, alles klar!', 2));
  const contactId = first.contact_id;

  // Retention: a rule, its dry-run preview, activation.
  await open(page, 'Löschregeln');
  await shot(page, 'retention');
  // Typed as a person would: the form comes back as typed, with the reason beside the row.
  await page.selectOption('#r0-cat', 'message_content');
  await page.selectOption('#r0-start', 'collection');
  await page.fill('#r0-amount', '90 Tage');
  await page.selectOption('#r0-unit', 'days');
  await page.fill('#r0-basis', 'Art. 5 Abs. 1 lit. e DSGVO: Kundenanfragen nach 90 Tagen löschen');
  await Promise.all([page.waitForNavigation(), page.click('text=Vorschau anzeigen')]);
  check((await page.locator('tr.row-error').textContent()).includes('ganze Zahl'), 'a period that is not a number is refused next to its row');
  check(await page.inputValue('#r0-basis') === 'Art. 5 Abs. 1 lit. e DSGVO: Kundenanfragen nach 90 Tagen löschen'
        && await page.inputValue('#r0-cat') === 'message_content', 'the refused form keeps everything typed');
  await shot(page, 'retention-error');
  await page.fill('#r0-amount', '90');
  await Promise.all([page.waitForNavigation(), page.click('text=Vorschau anzeigen')]);
  const preview = await page.locator('#preview').textContent();
  check(preview.includes('Sofort fällig') && /Nachrichteninhalte: 2/.test(preview), 'the preview shows, in words, the two messages the rule would delete now');
  check(/unlesbar[^]*WhatsApp 01\/2026, WhatsApp 02\/2026/.test(preview), 'the preview names the months that become unreadable as the run starts');
  check((await page.locator('main p.warn').textContent()).includes('zweite Person'),
        'the preview says that deleting every message at once needs a second person');
  await shot(page, 'retention-preview');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Aktivieren")')]);
  let versions = await api('GET', `/v1/tenants/${tenantId}/retention/rules/versions`);
  check(versions[0].state === 'pending_approval' && versions[0].proposed_by.startsWith('user:'), 'the version waits for approval, proposed by the signed-in user');
  // A second person (the install's first admin token) approves.
  await api('POST', `/v1/tenants/${tenantId}/retention/rules/versions/${versions[0].version}/approve`, {});
  await page.reload();
  const rules = await page.locator('main table').first().textContent();
  check(rules.includes('90 Tage ab der Erhebung') && rules.includes('Kundenanfragen nach 90 Tagen') && !rules.includes('P90D'), 'after the approval the rule is in force, in words');
  versions = await api('GET', `/v1/tenants/${tenantId}/retention/rules/versions`);
  check(versions[0].state === 'active', 'the API shows the version as active');
  // A run on demand shows first what is due, and deletes nothing until confirmed (cancelled here).
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Prüfen, was jetzt fällig ist")')]);
  check((await page.locator('#due').textContent()).includes('Nachrichteninhalte'), 'a run on demand first lists what is due now');
  await shot(page, 'retention-run');
  await Promise.all([page.waitForNavigation(), page.click('main a:has-text("Abbrechen")')]);
  // The same check in English, then back to German for the rest.
  await Promise.all([page.waitForNavigation(), page.click('nav.lang >> text=English')]);
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Check what is due now")')]);
  check(/unreadable[^]*WhatsApp 2026-01, WhatsApp 2026-02/.test(await page.locator('#due').textContent()),
        'the English check names the months that become unreadable as the run starts');
  await shot(page, 'retention-run-en');
  await Promise.all([page.waitForNavigation(), page.click('main a:has-text("Cancel")')]);
  await Promise.all([page.waitForNavigation(), page.click('nav.lang >> text=Deutsch')]);

  // Legal holds and consent (the widget preview follows what is typed).
  await open(page, 'Aufbewahrungssperren');
  await page.fill('#h-reason', 'Rechtsstreit Az. 3 O 123/26');
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Sperre setzen")')]);
  check((await page.locator('main table').textContent()).includes('Rechtsstreit'), 'a legal hold is placed');
  await shot(page, 'holds');
  await open(page, 'Einwilligungen');
  await page.fill('#p-title', 'Newsletter per WhatsApp');
  await page.fill('#p-de', 'Ja, ich möchte den Newsletter per WhatsApp erhalten.');
  await page.fill('#p-color', '#7a1f5c');
  check(await page.locator('#wp-title').textContent() === 'Newsletter per WhatsApp', 'the widget preview shows the title as typed');
  await shot(page, 'consent');
  await page.fill('#p-name', 'Newsletter');
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Zweck anlegen")')]);
  check((await page.locator('main').textContent()).includes('Ja, ich möchte den Newsletter'), 'the purpose is created with its text');

  // A contact's conversation, looked up by number (audited).
  await open(page, 'Kontakte');
  await page.fill('#f-person', '+49 170 5550999');
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Suchen")')]);
  check((await page.locator('#nobody').textContent()).includes('keine Daten'), 'a number Hafen does not know is a normal answer: no data held');
  const [noData] = await Promise.all([page.waitForEvent('download'), page.click('#nobody button')]);
  check(readFileSync(await noData.path()).subarray(0, 5).toString() === '%PDF-', `the no-data letter downloads as a PDF (${noData.suggestedFilename()})`);
  if (process.env.HAFEN_SCREENSHOTS) await noData.saveAs(resolve(here, '../../docs/samples/letter-no-data-de.pdf'));
  await shot(page, 'contacts-nobody');
  await page.fill('#f-person', 'erika mustermann');
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Suchen")')]);
  check((await page.locator('main table.contacts').textContent()).includes('Erika Mustermann'), 'a person is found by name');
  await shot(page, 'contacts-found');
  await Promise.all([page.waitForNavigation(), page.click('main table.contacts a:has-text("Erika Mustermann")')]);
  check((await page.locator('.conversation').textContent()).includes('Frage zur Rechnung'), 'the lookup shows the conversation');
  check(await page.locator('.conversation li.msg.in').count() === 2 && (await page.locator('.conversation li.msg.in .meta').first().textContent()).includes('Eingehend'),
        'incoming messages are marked as incoming, in words and on their side');
  await shot(page, 'conversation');

  // Data-subject request: register an access request, export it.
  await open(page, 'Betroffenenanfragen');
  await page.selectOption('#q-kind', 'access');
  await page.fill('#q-person', '+49 151 23456789');
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Anfrage erfassen")')]);
  const queue = await page.locator('main table').textContent();
  check(queue.includes('Erika Mustermann') && queue.includes('Auskunft (Art. 15 DSGVO)') && !queue.includes(contactId),
        'the request, registered by phone number, is in the queue under the person\'s name, in words');
  await shot(page, 'requests');
  const [exported] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Auskunft exportieren")')]);
  const zip = readFileSync(await exported.path());
  check(zip.subarray(0, 2).toString() === 'PK' && exported.suggestedFilename().endsWith('.zip'), `the access export downloads as a ZIP (${exported.suggestedFilename()}, ${zip.length} bytes)`);

  // Erasure asks for confirmation first, showing what goes and what stays.
  await page.selectOption('#q-kind', 'erasure');
  await page.fill('#q-person', 'Erika Mustermann');
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Anfrage erfassen")')]);
  await Promise.all([page.waitForNavigation(), page.click('main button.danger')]);
  check((await page.locator('h1').textContent()) === 'Löschung bestätigen' && (await page.locator('main table').textContent()).includes('wird gelöscht'),
        'erasing asks for confirmation first, with what will be erased');
  await shot(page, 'erasure-confirm');
  await Promise.all([page.waitForNavigation(), page.click('main a:has-text("Abbrechen")')]);
  check(page.url().endsWith('/requests'), 'cancelling returns to the requests, nothing erased');

  // Reports: a PDF download.
  await open(page, 'Berichte');
  await page.selectOption('#r-kind', 'deletion-concept');
  await page.selectOption('#r-tenant', tenantId);
  await page.selectOption('#r-format', 'pdf');
  await shot(page, 'reports');
  const [report] = await Promise.all([page.waitForEvent('download'), page.click('main button:has-text("Herunterladen")')]);
  const pdf = readFileSync(await report.path());
  check(pdf.subarray(0, 5).toString() === '%PDF-' && report.suggestedFilename().endsWith('.pdf'), `the report downloads as a PDF (${report.suggestedFilename()}, ${pdf.length} bytes)`);

  // Certificates, audit log with chain check, users, dashboard.
  await open(page, 'Löschnachweise');
  await shot(page, 'certificates');
  // The register: the dashboard lists what the records lack; the controller's details are
  // entered on their page.
  await Promise.all([page.waitForNavigation(), page.click('nav.main >> text=Übersicht')]);
  check((await page.locator('#records-missing').textContent()).includes('Verantwortlicher'), 'the dashboard lists what the records still lack');
  await shot(page, 'dashboard-missing');
  await Promise.all([page.waitForNavigation(), page.click('nav.main >> text=Verzeichnis (Art. 30)')]);
  await page.fill('#g-name', 'Muster GmbH');
  await page.fill('#g-address', 'Musterstraße 1, 10115 Berlin');
  await page.fill('#g-contact', 'datenschutz@muster.de');
  await page.fill('#g-avv-date', '2026-01-15');
  await page.fill('#g-avv-subject_matter', 'Messenger-Kommunikation mit Kunden');
  await page.fill('#g-avv-duration', 'unbefristet, kündbar mit drei Monaten');
  await page.fill('#g-avv-nature_and_purpose', 'Empfang, verschlüsselte Speicherung, Versand und Löschung von Nachrichten');
  await page.fill('#g-avv-data_types', 'Telefonnummern\nProfilnamen\nNachrichteninhalte');
  await page.fill('#g-avv-data_subject_categories', 'Kunden\nInteressenten');
  await page.fill('#g-avv-instruction_channel', 'schriftlich per E-Mail an betrieb@hafen.example');
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Speichern")')]);
  check((await page.locator('p.notice').textContent()).includes('Gespeichert'), 'the controller and the agreement are saved');
  await shot(page, 'register');
  await open(page, 'Prüfprotokoll');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Kette prüfen")')]);
  check((await page.locator('#chain').textContent()).includes('Kette vollständig'), 'the audit chain verifies');
  const audit = await page.locator('main table').textContent();
  check(audit.includes('Angemeldet') && audit.includes('Anmeldung fehlgeschlagen') && !audit.includes('ui.sign_in'), 'sign-in and the failed attempt are audited');
  await shot(page, 'audit');
  await open(page, 'Benutzer');
  await page.fill('#u-login', 'agentin@muster.de');
  await page.fill('#u-password', 'Vorläufiges Passwort 1');
  await page.selectOption('#u-role', 'agent');
  await page.selectOption('#u-tenant', tenantId);
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Benutzer anlegen")')]);
  check((await page.locator('main table').textContent()).includes('agentin@muster.de'), 'an admin adds a person on the users page');
  await page.fill('#u-login', 'dsb@muster.de');
  await page.fill('#u-password', 'Vorläufiges Passwort 3');
  await page.selectOption('#u-role', 'dpo');
  await page.selectOption('#u-tenant', tenantId);
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Benutzer anlegen")')]);
  await page.click('main summary:has-text("Zugang zurücksetzen")');
  await shot(page, 'users');
  // The password the admin chose opens only the account page, until the person sets their own.
  const agentin = await browser.newContext({ locale: 'de-DE' });
  const other = await agentin.newPage();
  await other.goto(`${base}/ui/sign-in`);
  await other.fill('#login', 'agentin@muster.de');
  await other.fill('#password', 'Vorläufiges Passwort 1');
  await Promise.all([other.waitForNavigation(), other.click('main button')]);
  await other.goto(`${base}/ui/t/${tenantId}/contacts`);
  check(other.url().endsWith('/ui/account') && (await other.locator('[role=alert]').textContent()).includes('Bitte wählen Sie jetzt ein eigenes'),
        'a person with an admin-chosen password is sent to choose their own');
  await other.fill('#a-current', 'Vorläufiges Passwort 1');
  await other.fill('#a-new', 'Mein eigenes Passwort 2');
  await Promise.all([other.waitForNavigation(), other.click('main button:has-text("Passwort ändern")')]);
  await other.goto(`${base}/ui/t/${tenantId}/contacts`);
  check(other.url().endsWith('/contacts'), 'after choosing their own password the other pages open');
  // The person sent an order, a contact card and a document (WhatsApp's payloads, as a relay
  // stores them through the API); the page shows them by kind, in words.
  const erika = { channel: 'whatsapp', address: '+49 151 23456789', display_name: 'Erika Mustermann' };
  const earlier = (minutes) => new Date(Date.now() - minutes * 60000).toISOString();
  await api('POST', `/v1/tenants/${tenantId}/messages`, { messages: [
    { contact: erika, direction: 'in', occurred_at: earlier(5), kind: 'order', body: '2 Artikel',
      raw: { message: { type: 'order', order: { catalog_id: '194836987003835', text: 'Bitte bis Freitag liefern',
        product_items: [{ product_retailer_id: 'kaffee-500g', quantity: 2, item_price: 8.9, currency: 'EUR' },
                        { product_retailer_id: 'filter-100', quantity: 1, item_price: 3.5, currency: 'EUR' }] } } } },
    { contact: erika, direction: 'in', occurred_at: earlier(4), kind: 'contacts', body: 'Max Mustermann',
      raw: { message: { type: 'contacts', contacts: [{ name: { formatted_name: 'Max Mustermann' },
        phones: [{ phone: '+49 30 1234567', wa_id: '49301234567', type: 'WORK' }], emails: [{ email: 'max@muster.de' }] }] } } },
    { contact: erika, direction: 'in', occurred_at: earlier(3), kind: 'document', body: 'Meine Rechnung',
      raw: { message: { type: 'document', document: { caption: 'Meine Rechnung', filename: 'Rechnung-2026-118.pdf', mime_type: 'application/pdf', id: '1003383421387256' } } } },
  ] });
  // The agent answers a person who wrote a minute ago, from the conversation page.
  await api('POST', `/v1/tenants/${tenantId}/messages`, { contact: { channel: 'whatsapp', address: '+49 151 23456789', display_name: 'Erika Mustermann' },
    direction: 'in', occurred_at: new Date(Date.now() - 60000).toISOString(), kind: 'text', body: 'Ist mein Paket schon unterwegs?' });
  await other.goto(`${base}/ui/t/${tenantId}/contacts`);
  await Promise.all([other.waitForNavigation(), other.click('main table.contacts a:has-text("Erika Mustermann")')]);
  await other.fill('#s-text', 'Ja, es kommt morgen.');
  await Promise.all([other.waitForNavigation(), other.click('#reply button')]);
  check(sentToPlatform.length === 1 && sentToPlatform[0].text?.body === 'Ja, es kommt morgen.' && sentToPlatform[0].to === '4915123456789',
        'the agent\'s reply reaches the platform');
  check((await other.locator('.conversation li.msg.out').last().textContent()).includes('gesendet'), 'the reply shows in the conversation with its delivery state in words');
  const shown = await other.locator('.conversation').textContent();
  check(shown.includes('Bestellung') && shown.includes('kaffee-500g') && shown.includes('21,30 EUR') && shown.includes('Summe'),
        'an order shows its items, prices and total');
  check(shown.includes('Geteilter Kontakt') && shown.includes('+49 30 1234567') && shown.includes('max@muster.de'),
        'a shared contact shows its number and e-mail');
  check(shown.includes('Datei öffnen: Rechnung-2026-118.pdf') && !/ · (order|contacts|document|text)\b/.test(shown),
        'a document offers its file by name; kinds are words, not codes');
  await german(other, 'agent-conversation');
  if (process.env.HAFEN_SCREENSHOTS) await other.screenshot({ path: join(shots, 'agent-conversation.png'), fullPage: true });
  await Promise.all([other.waitForNavigation(), other.click('nav.lang >> text=English')]);
  check((await other.locator('#reply h2').textContent()) === 'Reply' && (await other.locator('.conversation li.msg.out').last().textContent()).includes('sent'),
        'the conversation in English');
  check((await other.locator('.conversation').textContent()).includes('21.30 EUR') && (await other.locator('.conversation').textContent()).includes('Shared contact'),
        'the typed content in English, with English numbers');
  if (process.env.HAFEN_SCREENSHOTS) await other.screenshot({ path: join(shots, 'agent-conversation-en.png'), fullPage: true });
  // Every page the agent is offered, in English and in German; no admin or DPO pages among them.
  const agentPages = await walk(other, 'agent-', '-en', false);
  check(!agentPages.some((h) => /channels|retention|requests|register|reports|audit|users|tokens/.test(h)),
        `the agent is offered only the pages of an agent (${agentPages.join(' ')})`);
  await Promise.all([other.waitForNavigation(), other.click('nav.lang >> text=Deutsch')]);
  await walk(other, 'agent-', '', false);
  await agentin.close();
  // The data protection officer: sets their own password, then walks every page offered, in
  // German and in English; the pages of admins are not offered.
  const dsb = await browser.newContext({ locale: 'de-DE', viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  const dpo = await dsb.newPage();
  dpo.on('pageerror', (e) => violations.push(String(e)));
  await dpo.goto(`${base}/ui/sign-in`);
  await dpo.fill('#login', 'dsb@muster.de');
  await dpo.fill('#password', 'Vorläufiges Passwort 3');
  await Promise.all([dpo.waitForNavigation(), dpo.click('main button')]);
  await dpo.fill('#a-current', 'Vorläufiges Passwort 3');
  await dpo.fill('#a-new', 'Datenschutz im Hafen 4');
  await Promise.all([dpo.waitForNavigation(), dpo.click('main button:has-text("Passwort ändern")')]);
  await dpo.goto(`${base}/ui/t/${tenantId}/requests`);
  const dpoPages = await walk(dpo, 'dpo-', '', false);
  check(dpoPages.some((h) => h.endsWith('/requests')) && dpoPages.some((h) => h.endsWith('/register')) && dpoPages.includes('/ui/reports'),
        `the DPO is offered requests, the register and reports (${dpoPages.join(' ')})`);
  check(!dpoPages.some((h) => /channels|users|tokens/.test(h)), 'the DPO is not offered channels, users or tokens');
  await Promise.all([dpo.waitForNavigation(), dpo.click('nav.lang >> text=English')]);
  await walk(dpo, 'dpo-', '-en', false);
  await dpo.goto(`${base}/ui/dashboard`);
  await shot(dpo, 'dpo-dashboard-en');
  await dsb.close();
  // API tokens: issued with a name and an end, the secret shown once, revoked.
  await open(page, 'API-Tokens');
  await page.fill('#k-name', 'Kassensystem Filiale Nord');
  await page.selectOption('#k-role', 'ingest');
  await page.selectOption('#k-tenant', tenantId);
  await page.fill('#k-days', '90');
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Token ausstellen")')]);
  const issued = (await page.locator('#new-token').textContent()).trim();
  check(issued.startsWith('hfn_'), 'a new token is shown once after it is issued');
  const probe = await fetch(`${base}/v1/tenants/${tenantId}/messages`, { method: 'POST',
    headers: { authorization: `Bearer ${issued}`, 'content-type': 'application/json' }, body: JSON.stringify(msg('Bon 4711', 3)) });
  check(probe.status === 201, 'the new token works');
  await shot(page, 'tokens');
  await page.goto(`${base}/ui/tokens`);
  check(!(await page.content()).includes(issued), 'the token list never shows the secret again');
  await Promise.all([page.waitForNavigation(), page.locator('tr', { hasText: 'Kassensystem Filiale Nord' }).locator('button:has-text("Widerrufen")').click()]);
  check((await page.locator('tr', { hasText: 'Kassensystem Filiale Nord' }).textContent()).includes('widerrufen'), 'a revoked token is listed as revoked');
  const refused = await fetch(`${base}/v1/tenants/${tenantId}/messages`, { method: 'POST',
    headers: { authorization: `Bearer ${issued}`, 'content-type': 'application/json' }, body: JSON.stringify(msg('Bon 4712', 3)) });
  check(refused.status === 401, 'the revoked token is refused at once');
  await page.click('header a.who');
  check(await page.locator('h1').textContent() === 'Mein Konto' && (await page.locator('main').textContent()).includes('admin@muster.de'),
        'the account page shows the signed-in login');
  await shot(page, 'account');
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Zwei-Faktor einrichten")')]);
  check(await page.locator('figure.qr svg').count() === 1, 'two-factor set-up shows a QR code drawn by the server');
  await shot(page, 'totp');
  await Promise.all([page.waitForNavigation(), page.click('nav.main >> text=Übersicht')]);
  check((await page.locator('main').textContent()).includes('WhatsApp Kundenservice'), 'the dashboard lists the channel');
  await shot(page, 'dashboard');

  // A second tenant: the chosen one stays chosen across pages without a tenant, and the picker
  // switches to the other with the same page.
  await open(page, 'Mandanten');
  await page.fill('#tenant-name', 'Zweite Muster AG');
  await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
  const secondId = page.url().match(/\/ui\/t\/([0-9a-f-]+)\/channels/)?.[1];
  await open(page, 'Berichte');
  await open(page, 'Löschregeln');
  check(page.url().includes(secondId) && (await page.locator('nav.main li.current-tenant').textContent()).includes('Zweite Muster AG'),
        'after a page without a tenant the chosen tenant stays chosen');
  await Promise.all([page.waitForNavigation(), page.selectOption('#tenant-pick', tenantId)]);
  check(page.url().endsWith(`/ui/t/${tenantId}/retention`), 'the tenant picker opens the same page of the other tenant');
  await open(page, 'Übersicht');

  // English: every page the admin is offered.
  await Promise.all([page.waitForNavigation(), page.click('nav.lang >> text=English')]);
  check(await page.locator('h1').textContent() === 'Dashboard' && page.url().endsWith('/ui/dashboard'), 'the language switch shows the same page in English');
  const adminPages = await walk(page, '', '-en');
  check(adminPages.length >= 12, `the admin's English walk opened ${adminPages.length} pages`);
  await page.goto(`${base}/ui/tokens`);
  check(await page.locator('h1').textContent() === 'API tokens' && (await page.locator('main').textContent()).includes('revoked'), 'the tokens page in English');

  // Sign out ends the session: the old cookie no longer opens a page.
  const cookie = (await context.cookies()).find((c) => c.name === 'hafen_session').value;
  await Promise.all([page.waitForNavigation(), page.click('header button')]);
  check(page.url().endsWith('/ui/sign-in'), 'signing out returns to the sign-in page');
  const replay = await fetch(`${base}/ui/dashboard`, { headers: { cookie: `hafen_session=${cookie}` }, redirect: 'manual' });
  check(replay.status === 303, 'the signed-out session cookie is dead');

  const english = germanPages.filter(([, word]) => word);
  check(germanPages.length >= 15 && english.length === 0,
        `no English words on the ${germanPages.length} German pages walked ${english.map(([n, w]) => `${n}: ${w}`).join(', ')}`);
  const german_ = englishPages.filter(([, word]) => word);
  check(englishPages.length >= 20 && german_.length === 0,
        `no German words on the ${englishPages.length} English pages walked ${german_.map(([n, w]) => `${n}: ${w}`).join(', ')}`);
  check(asksForIds.length === 0, `no page asks for an id ${asksForIds.join(' | ')}`);
  check(violations.length === 0, `no CSP violation or script error on any page ${violations.join(' | ')}`);
  await browser.close();
  platform.close();
  check(!/Erika|23456789|Rechnung|Leuchtturm|admin@muster|hfn_/.test(log), 'the server log holds no name, number, message, password or login');
} catch (e) {
  failures++;
  console.log(`FAILED - ${e.stack ?? e}`);
} finally {
  if (server) server.kill();
  rmSync(data, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
