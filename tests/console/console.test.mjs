// The web console in a real browser: Debian's Chromium driven by playwright-core, against the
// real server with its demo estate. A supervisor's morning (the queue, an overdue job assigned,
// an issue's photos and sign-off), a manager's extension decision (and a supervisor refused), a
// resident's report taken at the desk, the month's workbook downloaded and read, the label
// sheet printed and scanned back, the language switched. Screenshots of each page land in
// target/console-screenshots/ (Chinese, as staff see them).
//
// Run by scripts/console-test (part of scripts/test). PATROL_SERVER_BIN names the server binary.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const shots = join(root, 'target/console-screenshots');
const serverBin = process.env.PATROL_SERVER_BIN ?? join(root, 'target/debug/patrol-server');
const chromiumBin = process.env.PATROL_CHROMIUM ?? '/usr/bin/chromium';

let server;
let base;
let browser;
let data;

before(async () => {
  mkdirSync(shots, { recursive: true });
  data = mkdtempSync(join(tmpdir(), 'patrol-console-'));
  server = spawn(serverBin, ['--data-dir', data, 'serve', '--demo', '--listen', '127.0.0.1:0'], {
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('the server did not start in 60 s')), 60_000);
    server.on('exit', (code) => fail(new Error(`the server exited (${code}) before listening`)));
    createInterface({ input: server.stdout }).on('line', (line) => {
      const m = line.match(/^patrol-server listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
  });
  browser = await chromium.launch({
    executablePath: chromiumBin,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGKILL');
  if (data) rmSync(data, { recursive: true, force: true });
});

/** A fresh browser context signed in as `username`; its page is on the queue. */
async function signIn(username) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  // Nothing a page loads may come from anywhere but the server.
  const foreign = [];
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url()); });
  page.foreign = foreign;
  await page.goto(`${base}/console`);
  assert.match(page.url(), /\/console\/login/, 'not signed in: to the sign-in page');
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', 'demo');
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/console`);
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** A small JPEG made by the browser's own encoder. */
async function jpeg(page, hue) {
  const dataUrl = await page.evaluate((h) => {
    const c = document.createElement('canvas');
    c.width = 640; c.height = 480;
    const g = c.getContext('2d');
    g.fillStyle = `hsl(${h}, 60%, 50%)`; g.fillRect(0, 0, 640, 480);
    g.fillStyle = '#fff'; g.fillRect(100, 100, 200, 120);
    return c.toDataURL('image/jpeg', 0.9);
  }, hue);
  return Buffer.from(dataUrl.split(',')[1], 'base64');
}

test('a supervisor sees an overdue job in red, assigns it, and reads an issue with its photos and sign-off', async () => {
  const page = await signIn('demo-super');
  const overdue = page.locator('tr.overdue').first();
  await overdue.waitFor();
  assert.match(await overdue.locator('td.left').innerText(), /逾期/);
  const red = await overdue.locator('td.left').evaluate((td) => getComputedStyle(td).color);
  assert.equal(red, 'rgb(198, 40, 40)', 'overdue is red');
  await shot(page, 'queue');

  // Assign the overdue job to someone of its team.
  const title = await overdue.locator('td.title a').innerText();
  await overdue.locator('td.title a').click();
  await page.waitForURL(/\/console\/issues\//);
  const select = page.locator('form.assign select[name=assignee_id]');
  const options = await select.locator('option').allInnerTexts();
  assert.ok(options.length > 0, 'someone of the team to assign');
  await select.selectOption({ index: options.length - 1 });
  const who = options[options.length - 1];
  await page.click('form.assign button[type=submit]');
  await page.waitForLoadState();
  assert.ok((await page.locator('section.timeline').innerText()).includes(who), `the timeline names ${who}`);
  await page.goto(`${base}/console`);
  const row = page.locator('tr', { hasText: title }).first();
  assert.ok((await row.innerText()).includes(who), 'the queue shows the assignee');

  // A closed issue: its photos load, full size on click, and the sign-off shows its signature.
  await page.goto(`${base}/console?status=closed`);
  const closed = page.locator('td.title a', { hasText: '消防通道指示灯' }).first();
  await closed.click();
  await page.waitForURL(/\/console\/issues\//);
  const thumbs = page.locator('img.thumb');
  assert.ok(await thumbs.count() >= 2, 'photos of the report and of the fix');
  for (const img of await thumbs.all()) {
    await img.scrollIntoViewIfNeeded();
    assert.ok(await img.evaluate((i) => i.complete && i.naturalWidth > 0), 'a thumbnail loads');
  }
  const full = await thumbs.first().evaluate((i) => i.closest('a')?.getAttribute('href'));
  assert.ok(full, 'a thumbnail links to its full size');
  const big = await page.request.get(`${base}${full}`);
  assert.equal(big.status(), 200);
  assert.match(big.headers()['content-type'], /^image\//);
  const signature = page.locator('img.signature');
  assert.equal(await signature.count(), 1, 'the sign-off has its signature');
  assert.ok(await signature.evaluate((i) => i.complete && i.naturalWidth > 0), 'the signature loads');
  await shot(page, 'issue');

  // The printable record.
  await page.goto(`${page.url().split('?')[0]}?print=1`);
  assert.ok(await page.locator('body.print').count() === 1, 'the printable record');
  assert.deepEqual(page.foreign, [], 'nothing fetched from outside the server');
  await page.context().close();
});

test('a manager approves an extension; a supervisor sending the same form is refused', async () => {
  const manager = await signIn('demo-manager');
  const asked = manager.locator('tr', { has: manager.locator('span.tag', { hasText: '延期待批' }) }).first();
  await asked.waitFor();
  const href = await asked.locator('td.title a').getAttribute('href');

  // The supervisor's session, with a valid form token of its own, posting the manager's form.
  const supervisor = await signIn('demo-super');
  await supervisor.goto(`${base}${href}`);
  assert.equal(await supervisor.locator('form.extension').count(), 0, 'no decision form for a supervisor');
  const csrf = await supervisor.locator('input[name=csrf]').first().inputValue();
  const refused = await supervisor.request.post(`${base}${href}/extension`, {
    form: { csrf, approved: 'true', note: '' },
    maxRedirects: 0,
  });
  assert.equal(refused.status(), 403);

  await manager.goto(`${base}${href}`);
  await manager.fill('form.extension input[name=note]', '同意延期，配件到货后立即安装');
  await manager.click('form.extension button[value=true]');
  await manager.waitForLoadState();
  const timeline = await manager.locator('section.timeline').innerText();
  assert.match(timeline, /同意延期，配件到货后立即安装/);
  assert.equal(await manager.locator('form.extension').count(), 0, 'decided: no form any more');
  await manager.context().close();
  await supervisor.context().close();
});

test('the front desk records a resident\'s report with a photo and finds it in the queue', async () => {
  const page = await signIn('demo-super');
  await page.goto(`${base}/console/desk/new`);
  const title = `住户来电：3栋电梯按钮失灵 ${Date.now()}`;
  await page.selectOption('select[name=category]', 'facility');
  await page.selectOption('select[name=severity]', 'major');
  await page.fill('input[name=title]', title);
  await page.fill('textarea[name=note]', '住户王女士来电，3栋2号梯12楼按钮按下无反应');
  await page.setInputFiles('input[name=photos]', { name: 'lift.jpg', mimeType: 'image/jpeg', buffer: await jpeg(page, 200) });
  await page.click('form.desk button[type=submit]');
  await page.waitForURL(/\/console\/issues\//);
  assert.ok((await page.locator('h1').innerText()).includes(title));
  const srcs = new Set(await page.locator('img.thumb').evaluateAll((imgs) => imgs.map((i) => i.getAttribute('src'))));
  assert.equal(srcs.size, 1, 'the one photo, normalised by the server');
  assert.ok(await page.locator('img.thumb').first().evaluate((i) => i.complete && i.naturalWidth > 0), 'and it loads');
  await page.goto(`${base}/console`);
  const row = page.locator('tr', { hasText: title });
  assert.equal(await row.count(), 1, 'the desk report is in the queue');
  await page.context().close();
});

test('the month\'s workbook downloads and reads back', async () => {
  const page = await signIn('demo-super');
  await page.goto(`${base}/console/reports`);
  assert.ok(await page.locator('svg.chart').count() >= 2, 'charts drawn on the server');
  await shot(page, 'reports');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('a.button[href*="format=xlsx"]'),
  ]);
  const file = join(data, 'report.xlsx');
  await download.saveAs(file);
  // Read the Issues sheet with Python's zipfile: no project code between us and the file.
  const rows = JSON.parse(execFileSync('python3', ['-c', `
import json, re, sys, zipfile, xml.etree.ElementTree as ET
z = zipfile.ZipFile(sys.argv[1])
ns = {'m': 'http://schemas.openxmlformats.org/spreadsheetml/2006/main'}
shared = [''.join(t.text or '' for t in si.iter('{%s}t' % ns['m'])) for si in ET.fromstring(z.read('xl/sharedStrings.xml')).findall('m:si', ns)] if 'xl/sharedStrings.xml' in z.namelist() else []
book = ET.fromstring(z.read('xl/workbook.xml'))
names = [s.get('name') for s in book.find('m:sheets', ns)]
sheet = ET.fromstring(z.read('xl/worksheets/sheet%d.xml' % (names.index('问题 Issues') + 1)))
out = []
for row in sheet.find('m:sheetData', ns):
    cells = []
    for c in row:
        v = c.find('m:v', ns)
        t = c.get('t')
        if t == 's' and v is not None: cells.append(shared[int(v.text)])
        elif t == 'inlineStr': cells.append(''.join(x.text or '' for x in c.iter('{%s}t' % ns['m'])))
        else: cells.append(v.text if v is not None else '')
    out.append(cells)
print(json.dumps({'names': names, 'rows': out}, ensure_ascii=False))
`, file]).toString());
  assert.deepEqual(rows.names, ['巡查 Rounds', '到点 Visits', '检查结果 Results', '问题 Issues', '人员 People']);
  const header = rows.rows[0].map((h) => h.replace(/\s+/g, ' '));
  const titleAt = header.indexOf('标题 Title');
  assert.ok(titleAt >= 0, `a title column in ${header}`);
  assert.ok(rows.rows.slice(1).some((r) => r[titleAt] === '燃气调压箱附近有异味'), 'this month\'s urgent report is a row');
  await page.context().close();
});

test('the label sheet prints as a PDF whose every code scans', async () => {
  const page = await signIn('demo-super');
  await page.goto(`${base}/console/labels`);
  await page.waitForURL(/\/console\/sites\/[^/]+\/labels/);
  await shot(page, 'labels');
  const href = await page.locator('a[href$="labels.pdf"]').first().getAttribute('href');
  const pdf = await page.request.get(new URL(href, page.url()).toString());
  assert.equal(pdf.status(), 200);
  assert.equal(pdf.headers()['content-type'], 'application/pdf');
  const file = join(data, 'labels.pdf');
  writeFileSync(file, await pdf.body());
  // One label at a time, as a phone reads them: each cell of the sheet's 3 × 4 grid (62 × 64 mm
  // cells, 4 mm apart, from 8 mm left and 10 mm down) cut out at 150 dpi and scanned alone.
  const pageCount = Number(execFileSync('pdfinfo', [file]).toString().match(/^Pages:\s+(\d+)/m)[1]);
  assert.equal(pageCount, 2, '17 labels at 12 a page');
  const px = (mm) => String(Math.floor(mm * 150 / 25.4));
  const codes = new Set();
  for (let p = 1; p <= pageCount; p++) {
    for (let cell = 0; cell < 12; cell++) {
      const [x, y] = [8 + (cell % 3) * 66, 10 + Math.floor(cell / 3) * 68];
      const out = join(data, 'cell');
      execFileSync('pdftoppm', ['-f', `${p}`, '-l', `${p}`, '-r', '150', '-x', px(x), '-y', px(y),
        '-W', px(62), '-H', px(64), '-png', '-singlefile', file, out]);
      let text = '';
      // QR codes only: with every symbology on, zbarimg once read printed names as a linear code.
      try { text = execFileSync('zbarimg', ['--raw', '-q', '-Sdisable', '-Sqrcode.enable', `${out}.png`]).toString().trim(); } catch { /* no code: exit 4 */ }
      const expected = (p - 1) * 12 + cell < 17 ? 1 : 0;
      const found = text ? text.split('\n') : [];
      assert.equal(found.length, expected, `page ${p} cell ${cell}: ${found}`);
      for (const c of found) codes.add(c);
    }
  }
  assert.equal(codes.size, 17, 'every checkpoint of the demo estate, once');
  for (const c of codes) assert.match(c, /^PTRL1\./);
  const fonts = execFileSync('pdffonts', [file]).toString();
  assert.match(fonts, /\+\S+.*\byes\b.*\byes\b/, `a CJK font embedded and subset:\n${fonts}`);
  await page.context().close();
});

test('coverage shows today\'s rounds of each route', async () => {
  const page = await signIn('demo-super');
  await page.goto(`${base}/console/coverage`);
  const text = await page.locator('main').innerText();
  assert.match(text, /楼栋巡查/);
  await shot(page, 'coverage');
  await page.context().close();
});

test('the console switches to English and stays there', async () => {
  const page = await signIn('demo-super');
  assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
  await page.click('header.top a.lang');
  await page.waitForLoadState();
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  assert.match(await page.locator('header.top nav').innerText(), /Queue/);
  await page.goto(`${base}/console/reports`);
  assert.match(await page.locator('h1').innerText(), /Monthly report/);
  await page.context().close();
});
