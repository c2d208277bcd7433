// The teachers' console in a real browser: Debian's Chromium driven by puppeteer-core,
// against the real server and simulated agents that console_browser_test.cc starts. The
// C++ test passes what it made in the environment and acts on the fleet when asked
// (a file want-NAME in $SIGNALS; it answers with done-NAME). Prints "ok - ..." per check
// and "PERF name value" lines; exits 1 with the reason at the first failed check.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const env = process.env;
const need = (name) => {
  if (!env[name]) throw new Error(`environment variable ${name} is not set`);
  return env[name];
};
const BASE = need('CONSOLE_URL');            // https://127.0.0.1:PORT
const LINK = need('LINK');                   // teacher A's one-time link
const LINK_EXPIRING = need('LINK_EXPIRING'); // another, left to expire
const CLASS_A = need('CLASS_A');
const CLASS_B = need('CLASS_B');
const DEVICES = Number(need('DEVICES_A'));
const OFFLINE_ID = need('OFFLINE_ID');
const CLI_LOCK_MS = Number(need('CLI_LOCK_MS'));
const ARTEFACTS = need('ARTEFACTS');
const SIGNALS = need('SIGNALS');
const WAIT = 15000;

function ok(what) { console.log('ok - ' + what); }
function check(cond, what) {
  if (!cond) throw new Error('FAILED: ' + what);
  ok(what);
}

// The browser trusts exactly the server's key (its SPKI hash): the test needs no CA
// installed in a certificate store, and no other certificate error is ignored.
function spkiHash(pemFile) {
  const cert = new crypto.X509Certificate(fs.readFileSync(pemFile));
  const der = cert.publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

async function ask(name) {
  fs.writeFileSync(path.join(SIGNALS, 'want-' + name), '');
  const done = path.join(SIGNALS, 'done-' + name);
  const deadline = Date.now() + WAIT;
  while (!fs.existsSync(done)) {
    if (Date.now() > deadline) throw new Error(`the test did not do '${name}' in time`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function alertText(page) {
  await page.waitForFunction(() => {
    const a = document.getElementById('alerte');
    return a && !a.hidden && a.textContent.length > 0;
  }, { timeout: WAIT });
  return page.$eval('#alerte', (a) => a.textContent);
}

const browser = await puppeteer.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  userDataDir: path.join(SIGNALS, 'profile'),
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run',
         '--ignore-certificate-errors-spki-list=' + spkiHash(need('SERVER_CERT'))],
});
let failed = null;
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  // What the page costs: requests and bytes on the wire, and the time until the grid is
  // on screen and the buttons work.
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  let requests = 0, bytes = 0;
  cdp.on('Network.loadingFinished', (e) => { requests += 1; bytes += e.encodedDataLength; });
  const pageErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  const elsewhere = [];
  page.on('request', (r) => { if (!r.url().startsWith(BASE + '/')) elsewhere.push(r.url()); });
  const t0 = Date.now();
  const first = await page.goto(LINK, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => document.body.dataset.pret === 'classe', { timeout: WAIT });
  await page.waitForFunction((n) => document.querySelectorAll('#grille .tuile').length === n,
                             { timeout: WAIT }, DEVICES);
  const interactive = Date.now() - t0;
  console.log(`PERF page_requests ${requests}`);
  console.log(`PERF page_bytes ${bytes}`);
  console.log(`PERF time_to_interactive_ms ${interactive}`);
  check(page.url() === BASE + '/', 'the link signs in and leaves the address bar without its token');
  const csp = first.headers()['content-security-policy'] || '';
  check(/default-src 'none'/.test(csp) && /script-src 'self'/.test(csp) && !/unsafe/.test(csp) &&
        /frame-ancestors 'none'/.test(csp), `a strict Content-Security-Policy: ${csp}`);
  const cookies = await page.cookies();
  const session = cookies.find((c) => c.name === 'preau_session');
  check(session && session.httpOnly && session.secure && session.sameSite === 'Strict',
        'the session cookie is HttpOnly, Secure and SameSite=Strict');
  const tiles = await page.$$eval('#grille .tuile', (ts) => ts.map((t) => t.dataset.enLigne));
  check(tiles.length === DEVICES && tiles.every((t) => t === 'oui'),
        `the class grid shows the ${DEVICES} devices, all online`);
  const title = await page.$eval('#t-classe', (h) => h.textContent);
  check(title === CLASS_A, 'teacher A sees class A');
  const classes = await page.evaluate(async () => (await (await fetch('/api/session')).json()).classes.map((c) => c.chemin));
  check(classes.length === 1 && classes[0] === CLASS_A, 'the session lists only the class within the scope');
  check(elsewhere.length === 0, 'nothing is loaded from anywhere but the server: ' + elsewhere.join(' '));
  const shown = await page.$$eval('#actions button[data-action]',
                                  (bs) => bs.filter((b) => b.offsetParent !== null).map((b) => b.dataset.action));
  check(['lock', 'unlock', 'focus', 'open', 'allow', 'message', 'wifi-on', 'wifi-off'].every((a) => shown.includes(a)),
        `the class's buttons, as far as the server carries them out: ${shown.join(', ')}`);
  fs.mkdirSync(ARTEFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTEFACTS, 'console-phone.png'), fullPage: true });
  ok('screenshot at phone size: console-phone.png');

  // Accessibility: axe-core over the page (evaluated through DevTools, which the page's
  // Content-Security-Policy does not govern: the page itself still runs no inline script).
  await page.evaluate(fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const axe = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  console.log('axe violations: ' + JSON.stringify(axe));
  const serious = axe.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(serious.length === 0, 'axe-core finds no serious or critical violation');

  // The ENI: a 4K interactive display.
  await page.setViewport({ width: 1920, height: 1080, deviceScaleFactor: 2 });
  // Keyboard alone: Tab reaches the lock button, Enter presses it.
  await page.type('input[name=message]', 'Regardez le tableau');
  await page.type('input[name=minutes]', '30');
  await page.focus('input[name=minutes]');
  let guard = 0;
  while (!(await page.evaluate(() => document.activeElement && document.activeElement.dataset.action === 'lock'))) {
    await page.keyboard.press('Tab');
    if (++guard > 20) throw new Error('FAILED: Tab never reaches the lock button');
  }
  // Armed before the key press; resolved once the browser has painted the frame in which
  // every tile shows locked. The moment the summary line arrives (the server's answer,
  // sent once every device acked: what the CLI waits for) is noted too.
  await page.evaluate((n) => {
    window.preauLock = new Promise((resolve, reject) => {
      const grille = document.getElementById('grille');
      const resume = document.getElementById('resume');
      const all = () => {
        const ts = grille.querySelectorAll('.tuile');
        return ts.length === n && [...ts].every((t) => t.dataset.verrou === 'verrouillee');
      };
      const t = performance.now();
      let answered = null;
      const onSummary = new MutationObserver(() => {
        if (/verrouillées/.test(resume.textContent)) { answered = performance.now() - t; onSummary.disconnect(); }
      });
      onSummary.observe(resume, { childList: true, characterData: true, subtree: true });
      const obs = new MutationObserver(() => {
        if (all()) {
          obs.disconnect();
          requestAnimationFrame(() => resolve({ tiles: performance.now() - t, answered }));
        }
      });
      obs.observe(grille, { childList: true, subtree: true, attributes: true });
      setTimeout(() => {
        const states = [...grille.querySelectorAll('.tuile')].map((x) => x.dataset.verrou);
        reject(new Error('not every tile locked within 15 s; summary: "' +
                         resume.textContent + '"; tiles: ' + states.join(',')));
      }, 15000);
    });
  }, DEVICES);
  await page.keyboard.press('Enter');
  const lock = await page.evaluate(() => window.preauLock);
  const lockMs = lock.tiles;
  await page.waitForFunction(() => /verrouillées/.test(document.getElementById('resume').textContent),
                             { timeout: WAIT });
  console.log(`PERF tap_to_all_tiles_locked_ms ${lockMs.toFixed(1)}`);
  console.log(`PERF tap_to_summary_ms ${lock.answered === null ? 'after the tiles' : lock.answered.toFixed(1)}`);
  console.log(`PERF cli_lock_round_trip_ms ${CLI_LOCK_MS}`);
  // The server answers (and the CLI returns) with the devices' acks; a tile turns locked
  // with the device's verified lock report, stored by the server before the grid is
  // pushed. Both come from the devices at the same moment: the tiles may trail the answer
  // by a few frames, not by a second. (Against the CLI's figure, measured earlier in the
  // run, the comparison is printed only: beside other tests on 2 cores, fsync-bound
  // figures swing by seconds from one minute to the next.)
  check(lock.answered === null || lockMs <= lock.answered + 1000,
        `every tile shows locked ${lockMs.toFixed(0)} ms after the tap, the summary came at ` +
        `${lock.answered === null ? 'or after that' : lock.answered.toFixed(0) + ' ms'} ` +
        `(the CLI's lock took ${CLI_LOCK_MS} ms)`);
  await page.waitForFunction(() => /verrouillées/.test(document.getElementById('resume').textContent),
                             { timeout: WAIT });
  const resume = await page.$eval('#resume', (p) => p.textContent);
  check(resume.startsWith(`${DEVICES}/${DEVICES} verrouillées`), `the summary says so, as the CLI does: "${resume}"`);
  await page.screenshot({ path: path.join(ARTEFACTS, 'console-eni.png'), fullPage: true });
  ok('screenshot at ENI size: console-eni.png');

  // A device goes offline: its tile turns grey, pushed by the server.
  await ask('offline');
  await page.waitForSelector(`#grille .tuile[data-id="${OFFLINE_ID}"][data-en-ligne="non"]`, { timeout: WAIT });
  const grey = await page.$eval(`#grille .tuile[data-id="${OFFLINE_ID}"]`, (t) => getComputedStyle(t).backgroundColor);
  check(grey === 'rgb(212, 212, 212)', `the offline device's tile turned grey live (${grey})`);

  // Class B: not shown, and refused when the requests are forged by hand.
  const forged = await page.evaluate(async (b) => {
    const s = await (await fetch('/api/session')).json();
    const g = await fetch('/api/classe?chemin=' + encodeURIComponent(b));
    const f = await fetch('/api/flux?chemin=' + encodeURIComponent(b));
    const c = await fetch('/api/commande', {
      method: 'POST', headers: { 'X-CSRF-Token': s.csrf, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ chemin: b, action: 'lock' }) });
    return { grid: [g.status, (await g.json()).erreur], flux: f.status,
             cmd: [c.status, (await c.json()).erreur] };
  }, CLASS_B);
  check(forged.grid[0] === 403 && forged.grid[1].includes(CLASS_B),
        `class B's grid is refused: ${forged.grid[1]}`);
  check(forged.flux === 403, "class B's live stream is refused");
  check(forged.cmd[0] === 403 && forged.cmd[1].includes(CLASS_B),
        `a forged lock of class B is refused: ${forged.cmd[1]}`);

  // A change without the CSRF token.
  const csrf = await page.evaluate(async (a) => {
    const c = await fetch('/api/commande', {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ chemin: a, action: 'unlock' }) });
    return [c.status, (await c.json()).erreur];
  }, CLASS_A);
  check(csrf[0] === 403 && /CSRF/.test(csrf[1]), `a command without the CSRF token is refused: ${csrf[1]}`);
  const stillLocked = await page.$$eval('#grille .tuile[data-en-ligne="oui"]',
                                        (ts) => ts.every((t) => t.dataset.verrou === 'verrouillee'));
  check(stillLocked, 'and the devices stayed locked');

  // Wi-Fi for a class activity (loi Abeille), with a duration: the CLI's summary.
  const wifi = await page.evaluate(async (a) => {
    const s = await (await fetch('/api/session')).json();
    const send = async (fields) => {
      const c = await fetch('/api/commande', {
        method: 'POST', headers: { 'X-CSRF-Token': s.csrf, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ chemin: a, ...fields }) });
      const j = await c.json();
      return [c.status, j.resume || j.erreur, (j.details || []).map((d) => d.pourquoi)];
    };
    return { on: await send({ action: 'wifi-on', minutes: '45' }) };
  }, CLASS_A);
  // These simulated devices hold no policy yet, so no Wi-Fi rule to lift: each says so
  // (the radio itself is tested on a real link in desktop_lock_test).
  check(wifi.on[0] === 200 &&
        wifi.on[1].startsWith(`0/${DEVICES} ont le Wi-Fi, 1 hors ligne`) &&
        wifi.on[2].filter((w) => /no policy held yet/.test(w)).length === DEVICES - 1,
        `Wi-Fi on for 45 minutes reaches the devices, which answer why not: "${wifi.on[1]}" ${wifi.on[2][1]}`);

  // The same link a second time, in a fresh browser context: refused, and said why.
  const other = await browser.createBrowserContext();
  const p2 = await other.newPage();
  await p2.goto(LINK, { waitUntil: 'domcontentloaded' });
  const used = await alertText(p2);
  check(/déjà servi/.test(used), `a used link is refused: "${used}"`);
  await p2.screenshot({ path: path.join(ARTEFACTS, 'console-used-link.png') });

  // A link past its 10 minutes (the server's clock is moved on).
  await ask('expire');
  await p2.goto(LINK_EXPIRING, { waitUntil: 'domcontentloaded' });
  const expired = await alertText(p2);
  check(/expiré/.test(expired), `an expired link is refused: "${expired}"`);

  // The password alternative: teacher B signs in and sees class B only.
  const signIn = async (password) => {
    await p2.$eval('#alerte', (a) => { a.textContent = ''; a.hidden = true; });
    await p2.$eval('#mot-de-passe', (f) => f.reset());
    await p2.type('#mot-de-passe input[name=nom]', 'prof.b');
    await p2.type('#mot-de-passe input[name=mot_de_passe]', password);
    await p2.click('#mot-de-passe button[type=submit]');
  };
  await p2.goto(BASE + '/', { waitUntil: 'domcontentloaded' });
  await p2.waitForFunction(() => document.body.dataset.pret === 'connexion', { timeout: WAIT });
  await signIn(need('PASSWORD_B'));
  await p2.waitForFunction((n) => document.querySelectorAll('#grille .tuile').length === n,
                           { timeout: WAIT }, Number(need('DEVICES_B')));
  const titleB = await p2.$eval('#t-classe', (h) => h.textContent);
  check(titleB === CLASS_B, `teacher B signs in with a password and sees class B (${titleB})`);
  await p2.click('#deconnexion');
  await p2.waitForFunction(() => !document.getElementById('connexion').hidden, { timeout: WAIT });
  for (let i = 1; i <= 5; ++i) {
    await signIn('pas-le-bon-' + i);
    const wrong = await alertText(p2);
    if (!/incorrect/.test(wrong)) throw new Error(`FAILED: wrong password ${i}: "${wrong}"`);
  }
  ok('five wrong passwords are each refused: "Nom ou mot de passe incorrect."');
  await signIn(need('PASSWORD_B'));
  const limited = await alertText(p2);
  check(/Trop de mots de passe/.test(limited),
        `past the limit, even the right password waits: "${limited}"`);
  await p2.screenshot({ path: path.join(ARTEFACTS, 'console-password-limit.png') });
  await other.close();

  // The page ran without a script error or a blocked resource (the refusals above are
  // answers, not errors: fetch reports no console error for a 403).
  const unexpected = pageErrors.filter((e) => !/status of 40[13]/.test(e));
  check(unexpected.length === 0, 'no script error and nothing blocked by the CSP: ' + unexpected.join(' | '));

  // Revocation ends the open console at once.
  await ask('revoke');
  const revoked = await alertText(page);
  check(/révoqué/.test(revoked), `revoking the teacher closes the open console: "${revoked}"`);
  const after = await page.evaluate(async () => (await fetch('/api/session')).status);
  check(after === 401, 'and its session is refused from then on');
} catch (e) {
  failed = e;
} finally {
  await browser.close();
}
if (failed) {
  console.error(failed.stack || String(failed));
  process.exit(1);
}
console.log('all checks passed');
