// The admin port's live dashboard (GET /, daemon/dashboard.c) in a real
// browser: headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core (pinned in package-lock.json).
//
// Each test starts its own compactd with the admin port on, fills it with
// values of many sizes and deletes every other key so the arenas are
// sparse, then checks what a person would: the heat map draws one cell per
// arena the daemon reports (ARENAS on the admin port and /api/arenas), the
// chart is drawn, the tooltip tells class, band and live/slots, and "Compact
// now" makes the arena count drop in the page and in the daemon. With
// admin-password set, clicking without the password shows the 401 error and
// starts nothing; with it, the run starts.
//
// Screenshots go to $DASHBOARD_ARTIFACTS (default ./artifacts, i.e.
// build/tests/artifacts under ctest). Daemons follow compactd_proc.py's
// rules: 127.0.0.1 on free ports, COMPACTD_BIN, logs in COMPACTD_LOG_DIR,
// stopped by PID, and killed with the test (setpriv --pdeathsig).
// Exits 77 (skipped) when chromium or the npm packages are missing.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
let chromium, Redis;
try {
  ({ chromium } = require(path.join(__dirname, 'node_modules', 'playwright-core')));
  Redis = require(path.join(__dirname, 'node_modules', 'ioredis'));
} catch (e) {
  console.log('SKIPPED: playwright-core or ioredis is not installed (run `npm ci` in tests/clients)');
  process.exit(77);
}
if (!fs.existsSync(CHROMIUM)) {
  console.log('SKIPPED: no ' + CHROMIUM + ' (apt-get install chromium)');
  process.exit(77);
}

const BIN = process.env.COMPACTD_BIN || path.join(__dirname, '..', '..', 'build', 'daemon', 'compactd');
const LOG_DIR = process.env.COMPACTD_LOG_DIR || path.join(process.cwd(), 'logs');
const ART_DIR = process.env.DASHBOARD_ARTIFACTS || path.join(process.cwd(), 'artifacts');
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// One compactd with its admin port; stop() by PID.
async function startDaemon(name, extra) {
  const port = await freePort();
  let admin = await freePort();
  while (admin === port) admin = await freePort();
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const logPath = path.join(LOG_DIR, `${name}-${port}.log`);
  const log = fs.openSync(logPath, 'w');
  const args = ['--pdeathsig', 'KILL', '--', BIN, '--port', String(port), '--bind', '127.0.0.1',
                '--admin-port', String(admin), '--admin-bind', '127.0.0.1', ...extra];
  const proc = spawn('setpriv', args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  let exited = null;
  proc.on('exit', (code, sig) => { exited = sig || code; });
  const d = {
    port, admin, proc, logPath,
    log: () => { try { return fs.readFileSync(logPath, 'utf8'); } catch (e) { return ''; } },
    async stop() {
      if (exited === null) {
        const done = new Promise((res) => proc.once('exit', res));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
        await done;
        clearTimeout(t);
      }
      return exited;
    },
  };
  const deadline = Date.now() + 10000;
  for (;;) {
    if (exited !== null) throw new Error(`compactd exited (${exited}) during start-up:\n${d.log()}`);
    try {
      const r = await fetch(`http://127.0.0.1:${admin}/`);
      if (r.status === 200) break;
    } catch (e) { /* not listening yet */ }
    if (Date.now() > deadline) {
      await d.stop();
      throw new Error(`compactd not ready after 10 s:\n${d.log()}`);
    }
    await sleep(50);
  }
  return d;
}

// No reconnecting: a daemon that went away fails the test at once. No
// ready check either: it sends INFO, which the admin port does not have.
const client = (port) => new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableReadyCheck: false,
                                     maxRetriesPerRequest: 0, retryStrategy: () => null });

// Values of many sizes (so many classes), then every other key deleted: the
// arenas end up about half full, which a compaction can pack.
async function fillSparse(port, n) {
  const r = client(port);
  await r.connect();
  for (let base = 0; base < n; base += 2000) {
    const p = r.pipeline();
    for (let i = base; i < Math.min(n, base + 2000); i++) p.set('k' + i, 'v'.repeat(16 + (i * 131) % 3000));
    await p.exec();
  }
  for (let base = 0; base < n; base += 4000) {
    const p = r.pipeline();
    for (let i = base; i < Math.min(n, base + 4000); i += 2) p.del('k' + i);
    await p.exec();
  }
  const keys = await r.dbsize();
  await r.quit();
  return keys;
}

// The daemon's own arena count, through the RESP admin command.
async function arenasByResp(d, password) {
  const r = client(d.admin);
  try {
    await r.connect();
    if (password) await r.call('AUTH', password);
    return (await r.call('ARENAS')).length;
  } finally {
    r.disconnect();
  }
}

async function apiJson(d, p, password) {
  const r = await fetch(`http://127.0.0.1:${d.admin}${p}`,
                        { headers: password ? { Authorization: 'Bearer ' + password } : {} });
  assert.equal(r.status, 200, `GET ${p}`);
  return r.json();
}

let ctx, userDir;

test.before(async () => {
  fs.mkdirSync(ART_DIR, { recursive: true });
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'compactd-chromium-'));
  // The network here is closed: these flags keep Chromium from dialling out.
  ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

test.after(async () => {
  if (ctx) await ctx.close();
  if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
});

const cellCount = (page) => page.locator('#heat .cell').count();

test('heat map matches the daemon and "Compact now" releases arenas', async () => {
  // a slow, visible run: 1 ms steps at 10% of a core; no automatic runs
  const d = await startDaemon('dashboard', ['--arena-size', '65536', '--compact-auto', 'no',
                                            '--compact-slice-us', '1000', '--compact-cpu-pct', '10']);
  const page = await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  try {
    const keys = await fillSparse(d.port, 30000);
    assert.equal(keys, 15000);
    const before = await arenasByResp(d);
    const api = await apiJson(d, '/api/arenas');
    assert.equal(api.arenas, before);
    assert.ok(before > 100, `expected many arenas, got ${before}`);
    assert.ok(api.classes.length > 10, 'values of many sizes span many classes');

    // only same-origin resources: a request anywhere else fails the test
    const foreign = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(`http://127.0.0.1:${d.admin}/`)) foreign.push(req.url());
    });
    await page.goto(`http://127.0.0.1:${d.admin}/`);
    await page.waitForFunction(() => document.querySelectorAll('#heat .cell').length > 0);
    assert.equal(await cellCount(page), before, 'one cell per arena');
    assert.equal(Number(await page.getAttribute('#heat', 'data-arenas')), before);
    assert.equal(await page.locator('#heat .hrow').count(), api.classes.length, 'one row per class');
    assert.equal(await page.textContent('#t-arenas'), before.toLocaleString('en-US'));

    // tooltip of the first cell: class, slot size, band, live/slots
    await page.locator('#heat .cell').first().hover();
    const tip = await page.textContent('#tip');
    const c0 = api.classes[0], a0 = c0.arenas[0];
    assert.match(tip, new RegExp(`class ${c0.class} `));
    assert.match(tip, /slot \d+ B/);
    assert.match(tip, new RegExp(`band ${a0[0]}`));
    assert.match(tip, /live [\d,]+ \/ [\d,]+ slots/);
    assert.equal(await page.isVisible('#tip'), true);
    await page.mouse.move(5, 5);

    // a few seconds of history, and the chart has lines on it
    await page.waitForFunction(() => document.getElementById('conn').textContent === 'live');
    await sleep(6000);
    const inked = await page.evaluate(() => {
      const cv = document.getElementById('chart');
      const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
      let n = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0) n++;
      return n;
    });
    assert.ok(inked > 1000, `the chart should be drawn (${inked} pixels inked)`);
    await page.screenshot({ path: path.join(ART_DIR, 'dashboard-before.png'), fullPage: true });

    await page.click('#compact');
    await page.waitForFunction(() => {
      const st = document.getElementById('compact-state');
      return st.dataset.runs === '1' && st.dataset.running === '0';
    }, null, { timeout: 30000 });
    const released = Number(await page.getAttribute('#compact-state', 'data-released'));
    assert.ok(released > 0, 'the run released arenas');
    assert.equal(await page.textContent('#compact-error'), '');

    const after = await arenasByResp(d);
    assert.ok(after < before, `arena count should drop (${before} -> ${after})`);
    assert.ok(after <= before - released / 2, `${before} -> ${after} with ${released} released`);
    // the page follows within a poll
    await page.waitForFunction((n) => document.querySelectorAll('#heat .cell').length === n, after);
    assert.equal((await apiJson(d, '/api/arenas')).arenas, after);
    assert.match(await page.textContent('#compact-state'), /released [\d,]+ arenas/);
    await sleep(5000);   // the drop in the chart
    await page.screenshot({ path: path.join(ART_DIR, 'dashboard.png'), fullPage: true });

    assert.deepEqual(foreign, [], 'the page loads nothing from elsewhere');
    assert.deepEqual(pageErrors, [], 'no script errors');
    assert.match(d.log(), /compaction started from the dashboard/);
  } finally {
    await page.close();
    assert.equal(await d.stop(), 0, 'clean shutdown\n' + d.log());
  }
});

test('with admin-password, compacting needs the password (401 shown)', async () => {
  const pw = 'dash-s3cret';
  const d = await startDaemon('dashboard-auth', ['--arena-size', '65536', '--compact-auto', 'no',
                                                 '--admin-password', pw]);
  const page = await ctx.newPage();
  try {
    await fillSparse(d.port, 6000);
    // the page itself is public; its data is not
    const raw = await fetch(`http://127.0.0.1:${d.admin}/api/stats`);
    assert.equal(raw.status, 401);
    assert.match((await raw.json()).error, /unauthorized/);

    await page.goto(`http://127.0.0.1:${d.admin}/`);
    await page.waitForSelector('#auth.show');
    assert.equal(await cellCount(page), 0, 'no data without the password');
    await page.click('#compact');
    await page.waitForFunction(() => document.getElementById('compact-error').textContent !== '');
    const err = await page.textContent('#compact-error');
    assert.match(err, /^401 /);
    assert.match(err, /unauthorized/);
    assert.equal((await apiJson(d, '/api/stats', pw)).compaction.runs, 0, 'nothing started');
    await page.screenshot({ path: path.join(ART_DIR, 'dashboard-401.png') });

    // a wrong password: still 401
    await page.fill('#pw', 'wrong');
    await page.click('#pw-set');
    await page.waitForFunction(() => /Wrong admin password/.test(document.getElementById('auth-msg').textContent));
    await page.click('#compact');
    await page.waitForFunction(() => /^401 /.test(document.getElementById('compact-error').textContent));
    assert.equal((await apiJson(d, '/api/stats', pw)).compaction.runs, 0);

    // the right one: data shows and the run starts
    await page.fill('#pw', pw);
    await page.click('#pw-set');
    await page.waitForFunction(() => document.querySelectorAll('#heat .cell').length > 0);
    assert.equal(await page.isVisible('#auth'), false);
    assert.equal(await cellCount(page), await arenasByResp(d, pw));
    await page.click('#compact');
    await page.waitForFunction(() => document.getElementById('compact-state').dataset.runs === '1');
    assert.equal(await page.textContent('#compact-error'), '');
    assert.equal((await apiJson(d, '/api/stats', pw)).compaction.runs, 1);
  } finally {
    await page.close();
    assert.equal(await d.stop(), 0, 'clean shutdown\n' + d.log());
  }
});

// The census panel: "Start census" counts the keyspace by prefix, the bars
// follow /api/census, and a second census marks the groups that grew.
async function setKeys(port, prefix, n, size) {
  const r = client(port);
  await r.connect();
  const p = r.pipeline();
  for (let i = 0; i < n; i++) p.set(prefix + ':' + i, 'v'.repeat(size));
  await p.exec();
  await r.quit();
}

test('census panel: groups by prefix, and the diff highlighted', async () => {
  const d = await startDaemon('dashboard-census', ['--arena-size', '65536', '--compact-auto', 'no']);
  const page = await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  try {
    await setKeys(d.port, 'user', 3000, 100);
    await setKeys(d.port, 'session', 2000, 300);
    await page.goto(`http://127.0.0.1:${d.admin}/`);
    await page.waitForFunction(() => document.getElementById('census-state').dataset.complete === '0');
    await page.click('#census-start');
    await page.waitForFunction(() => document.getElementById('census-rows').dataset.groups === '2');
    let api = await apiJson(d, '/api/census');
    assert.equal(api.keys, 5000);
    const rows = async () => page.$$eval('#census-rows .crow', (els) => els.map((e) => ({
      prefix: e.dataset.prefix, bytes: Number(e.dataset.bytes), delta: Number(e.dataset.delta),
      grew: e.classList.contains('grew') })));
    assert.deepEqual((await rows()).map((r) => [r.prefix, r.bytes]),
                     api.groups.map((g) => [g.prefix, g.bytes]), 'one bar per group, largest first');
    assert.equal((await rows()).filter((r) => r.grew).length, 0, 'nothing to compare with yet');

    // a leak appears and session grows: both are red after the next census
    await setKeys(d.port, 'leak', 1500, 64);
    await setKeys(d.port, 'session', 2500, 300);
    const first = await page.getAttribute('#census-rows', 'data-finished');
    await page.click('#census-start');
    await page.waitForFunction((f) => {
      const b = document.getElementById('census-rows');
      return b.dataset.finished !== f && b.dataset.groups === '3';
    }, first);
    api = await apiJson(d, '/api/census');
    assert.equal(api.has_previous, true);
    const got = await rows();
    const byPrefix = Object.fromEntries(got.map((r) => [r.prefix, r]));
    for (const g of api.groups) {
      assert.equal(byPrefix[g.prefix].delta, g.bytes_delta, g.prefix);
      assert.equal(byPrefix[g.prefix].grew, g.bytes_delta > 0, g.prefix);
    }
    assert.equal(byPrefix.leak.grew, true);
    assert.equal(byPrefix.session.grew, true);
    assert.equal(byPrefix.user.grew, false);
    assert.match(await page.textContent('#census-state'), /7,000 keys/);   // 3,000 + 2,500 + 1,500
    await page.screenshot({ path: path.join(ART_DIR, 'dashboard-census.png'), fullPage: true });

    // bad input from the form: the error shows, nothing starts
    await page.fill('#census-depth', '0');
    await page.click('#census-start');
    await page.waitForFunction(() => document.getElementById('census-error').textContent !== '');
    assert.match(await page.textContent('#census-error'), /^400 .*DEPTH must be an integer from 1 to 16/);
    assert.deepEqual(pageErrors, [], 'no script errors');
    assert.match(d.log(), /Census started from the dashboard/);
  } finally {
    await page.close();
    assert.equal(await d.stop(), 0, 'clean shutdown\n' + d.log());
  }
});
