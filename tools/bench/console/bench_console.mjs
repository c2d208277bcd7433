// Driven by bench_console.sh: the console's page load, tap-to-all-tiles-locked beside the
// CLI's lock round trip measured in the same run, and the server's memory per open
// console. Prints one figure per line.
import fs from 'node:fs';
import https from 'node:https';
import crypto from 'node:crypto';
import puppeteer from 'puppeteer-core';

const env = process.env;
const N = Number(env.DEVICES);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${env.SERVER_PID}/status`, 'utf8'))[1]);
const spki = (() => {
  const der = new crypto.X509Certificate(fs.readFileSync(env.SERVER_CERT)).publicKey
      .export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
})();

const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium', headless: true, userDataDir: env.PROFILE,
  args: ['--no-sandbox', '--disable-gpu', '--ignore-certificate-errors-spki-list=' + spki],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1920, height: 1080 });
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  let requests = 0, bytes = 0;
  cdp.on('Network.loadingFinished', (e) => { requests += 1; bytes += e.encodedDataLength; });
  const t0 = Date.now();
  await page.goto(env.LINK, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction((n) => document.body.dataset.pret === 'classe' &&
      document.querySelectorAll('#grille .tuile').length === n, { timeout: 30000 }, N);
  const tti = Date.now() - t0;
  console.log(`page load: ${requests} requests, ${bytes} bytes on the wire (TLS excluded), ` +
              `time to interactive ${tti} ms (link opened -> grid of ${N} drawn, buttons live)`);

  const runs = [];
  const summaries = [];
  let withSummary = 0;
  for (let i = 0; i < 5; ++i) {
    for (const [action, state, word] of [['lock', 'verrouillee', 'verrouillées'],
                                          ['unlock', 'deverrouillee', 'déverrouillées']]) {
      await page.$eval('#resume', (p) => { p.textContent = ''; });
      await page.evaluate((n, state, word) => {
        window.benchDone = new Promise((resolve) => {
          const g = document.getElementById('grille');
          const resume = document.getElementById('resume');
          const t = performance.now();
          const all = () => [...g.querySelectorAll('.tuile')].filter((x) => x.dataset.verrou === state).length === n;
          let tiles = null, summary = null, tilesWithSummary = false;
          const done = () => { if (tiles !== null && summary !== null) resolve({ tiles, summary, tilesWithSummary }); };
          const obs = new MutationObserver(() => {
            if (all()) { obs.disconnect(); requestAnimationFrame(() => { tiles = performance.now() - t; done(); }); }
          });
          obs.observe(g, { childList: true, subtree: true, attributes: true });
          const said = new MutationObserver(() => {
            if (!resume.textContent.includes(' ' + word)) return;
            said.disconnect();
            tilesWithSummary = all();
            requestAnimationFrame(() => { summary = performance.now() - t; done(); });
          });
          said.observe(resume, { childList: true, characterData: true, subtree: true });
        });
      }, N, state, word);
      await page.click(`button[data-action=${action}]`);
      const r = await page.evaluate(() => window.benchDone);
      if (action === 'lock') {
        runs.push(r.tiles);
        summaries.push(r.summary);
        withSummary += r.tilesWithSummary ? 1 : 0;
      }
    }
  }
  console.log(`tap -> all ${N} tiles locked: median ${median(runs).toFixed(0)} ms ` +
              `(runs ${runs.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`tap -> summary painted: median ${median(summaries).toFixed(0)} ms ` +
              `(runs ${summaries.map((x) => x.toFixed(0)).join(', ')}); every tile already ` +
              `locked when the summary came: ${withSummary}/${runs.length} runs`);
  console.log(`CLI \`preau class lock\` round trip, same run: median ${env.CLI_MEDIAN} ms ` +
              `(runs ${env.CLI_MS.split(' ').join(', ')}); ratio page/CLI ` +
              `${(median(runs) / Number(env.CLI_MEDIAN)).toFixed(2)}`);

  // Memory per open console: event streams held open with the page's session cookie.
  const cookie = (await page.cookies()).find((c) => c.name === 'preau_session');
  const url = new URL(env.CONSOLE_URL);
  const agent = new https.Agent({ rejectUnauthorized: false, maxSockets: Infinity, keepAlive: false });
  const open = (n) => Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const req = https.get({ host: url.hostname, port: url.port, agent,
      path: '/api/flux?chemin=' + encodeURIComponent(env.CLASS),
      headers: { Cookie: `preau_session=${cookie.value}` } }, (res) => {
      res.once('data', () => resolve(req));
    });
    req.on('error', reject);
  })));
  const before = rssKb();
  const M = 200;
  const streams = await open(M);
  await new Promise((r) => setTimeout(r, 500));  // let the allocator settle before reading
  const after = rssKb();
  console.log(`server memory: ${before} kB RSS, ${after} kB with ${M} consoles open: ` +
              `${((after - before) / M).toFixed(1)} kB per open console`);
  for (const r of streams) r.destroy();
} finally {
  await browser.close();
}
