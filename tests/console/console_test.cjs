// Drives the search console (/console) in headless Chromium through Playwright and checks
// what a person sees: containers listed for the key, a Korean search with highlights, scores,
// the intent, the weights and each retriever's rank, a document-grouped keyword search, the
// RAG context with citations, a permission error, markup in a title shown as text, and Hangul
// drawn with a CJK font. Each step leaves a screenshot in --artifacts.
//
//   node console_test.cjs --url URL --modules NODE_MODULES --chromium PATH --artifacts DIR
//                         --all-key KEY --hr-key KEY
//
// Exits 0 when every step passed; prints each step's outcome.
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const {parseArgs} = require('node:util');

const {values: args} = parseArgs({options: {
  url: {type: 'string'}, modules: {type: 'string'}, chromium: {type: 'string'}, artifacts: {type: 'string'},
  'all-key': {type: 'string'}, 'hr-key': {type: 'string'},
}});
for (const name of ['url', 'modules', 'chromium', 'artifacts', 'all-key', 'hr-key']) {
  if (!args[name]) { console.error(`console_test: --${name} is required`); process.exit(2); }
}
const {chromium} = require(path.join(args.modules, 'playwright-core'));
const TIMEOUT = 15000;

async function main() {
  const browser = await chromium.launch({executablePath: args.chromium, headless: true,
                                         args: ['--no-sandbox', '--disable-gpu']});
  const page = await browser.newPage({viewport: {width: 1200, height: 900}, locale: 'ko-KR'});
  page.setDefaultTimeout(TIMEOUT);
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  // The browser logs every 4xx answer as "Failed to load resource"; those are expected here.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push('console error: ' + m.text());
  });
  page.on('dialog', (d) => { problems.push('dialog opened: ' + d.message()); d.dismiss(); });

  let failed = 0;
  const step = async (name, body) => {
    try {
      await body();
      console.log(`ok   ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}\n${e.stack || e}`);
    }
    await page.screenshot({path: path.join(args.artifacts, name + '.png'), fullPage: true});
  };
  const connect = async (key) => {
    await page.fill('#api-key', key);
    await page.click('#connect');
  };
  const search = async () => {
    const request = page.waitForRequest((r) => r.url().endsWith('/v1/search'));
    await page.click('#search');
    return JSON.parse((await request).postData());
  };

  await step('01-page', async () => {
    const response = await page.goto(args.url + '/console');
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-security-policy'], /script-src 'self'/);
    assert.equal(await page.title(), 'TideSearch console');
    assert.equal(await page.$eval('#containers', (f) => f.disabled), true);
  });

  await step('02-connect', async () => {
    await connect(args['all-key']);
    await page.waitForSelector('#container-list input[data-container="hr"]');
    const names = await page.$$eval('#container-list input', (boxes) => boxes.map((b) => b.value));
    assert.deepEqual(names, ['eng', 'hr']);
    assert.match(await page.textContent('#connection'), /Connected: 2 container/);
  });

  await step('03-search', async () => {
    await page.fill('#query', '연차 휴가 신청');
    await page.check('#container-list input[data-container="hr"]');
    const sent = await search();
    assert.deepEqual(sent.container_ids, ['hr']);
    assert.equal(sent.mode, 'hybrid');
    await page.waitForSelector('#hits li.hit');
    const hits = await page.$$eval('#hits li.hit', (items) => items.map((li) => ({
      title: li.querySelector('.title').textContent,
      where: li.querySelector('.where').textContent,
      score: li.querySelector('.score').textContent,
      highlighted: [...li.querySelectorAll('.snippet em')].map((em) => em.textContent),
      ranks: Object.fromEntries([...li.querySelectorAll('table.explain tr[data-retriever]')]
          .map((tr) => [tr.dataset.retriever, tr.children[1].textContent])),
    })));
    assert.equal(hits.length, 3, JSON.stringify(hits));
    for (const hit of hits) {
      assert.match(hit.title, /^연차 휴가 규정 [123]$/);
      assert.match(hit.where, /^hr · leave-[123]/);   // the scope held: no eng document
      assert.match(hit.score, /^[01]\.\d{3}$/);
      assert.ok(hit.highlighted.includes('휴가'), JSON.stringify(hit));
      assert.match(hit.ranks.fulltext, /^\d+$/, JSON.stringify(hit));  // explain: a rank per retriever
    }
    assert.match(await page.textContent('#intent'), /intent \S+ \(\d\.\d\d\)/);
    assert.match(await page.textContent('#weights'), /vector \d\.\d\d · keyword \d\.\d\d · fulltext \d\.\d\d/);
  });

  await step('04-hangul-font', async () => {
    // The font Chromium really drew the first title with, from the DevTools protocol.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');
    const {root} = await cdp.send('DOM.getDocument', {depth: -1});
    const {nodeId} = await cdp.send('DOM.querySelector', {nodeId: root.nodeId, selector: '#hits li.hit .title'});
    const {fonts} = await cdp.send('CSS.getPlatformFontsForNode', {nodeId});
    assert.ok(fonts.some((f) => /CJK|KR/.test(f.familyName) && f.glyphCount > 0),
              'Hangul was not drawn with a CJK font: ' + JSON.stringify(fonts));
  });

  await step('05-keyword-by-document', async () => {
    await page.uncheck('#container-list input[data-container="hr"]');
    await page.selectOption('#mode', 'keyword');
    await page.selectOption('#group-by', 'document');
    const sent = await search();
    assert.equal(sent.mode, 'keyword');
    assert.equal(sent.group_by, 'document');
    assert.deepEqual(sent.container_ids, ['eng', 'hr']);  // none ticked: every listed container
    await page.waitForSelector('#hits li.hit');
    const docs = await page.$$eval('#hits li.hit', (items) => items.map((li) => li.dataset.chunkId.split('#')[0]));
    assert.equal(new Set(docs).size, docs.length, 'a document twice: ' + docs);
    assert.ok(docs.includes('deploy-guide') && docs.includes('leave-1'), docs.join(','));
    // Without the vector retriever, explain says so.
    const vector = await page.textContent('#hits li.hit table.explain tr[data-retriever="vector"]');
    assert.match(vector, /not returned/);
  });

  await step('06-markup-is-text', async () => {
    const titles = await page.$$eval('#hits li.hit .title', (nodes) => nodes.map((n) => n.textContent));
    assert.ok(titles.some((t) => t.startsWith('<img src=x')), titles.join(' | '));
    assert.equal(await page.$$eval('#hits img', (imgs) => imgs.length), 0);
    assert.equal(await page.title(), 'TideSearch console');
  });

  await step('07-rag-context', async () => {
    await page.selectOption('#mode', 'hybrid');
    const response = page.waitForResponse((r) => r.url().endsWith('/v1/context'));
    await page.click('#context');
    assert.equal((await response).status(), 200);
    await page.waitForSelector('#rag:not([hidden])');
    assert.match(await page.textContent('#rag-text'), /^\[1\] /);
    const citations = await page.$$eval('#citations li', (items) => items.map((li) => li.value));
    assert.ok(citations.length >= 1);
    assert.deepEqual(citations, citations.map((_, i) => i + 1));
    assert.equal(await page.isHidden('#hits li.hit'), true);
  });

  await step('08-permission-error', async () => {
    await connect(args['hr-key']);
    await page.waitForFunction(() => /Connected: 1 container/.test(document.querySelector('#connection').textContent));
    await page.fill('#principal', 'someone-else@example.com');
    await search();
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /^403 forbidden/);
    assert.equal(await page.$$eval('#hits li.hit', (items) => items.length), 0);
  });

  await step('09-bad-key', async () => {
    await connect('not-a-key-of-this-daemon');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /^401 unauthorized/);
    assert.equal(await page.$eval('#containers', (f) => f.disabled), true);
  });

  await browser.close();
  if (problems.length) { failed++; console.log('FAIL the page reported problems:\n' + problems.join('\n')); }
  console.log(failed ? `console_test: ${failed} step(s) failed` : 'console_test: every step passed');
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(1); });
