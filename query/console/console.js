// TideSearch console: a page for people to try searches against this daemon with an API key.
// Talks only to the daemon that served it (same origin), with the key in memory; renders every
// server string as text, except snippets, whose <em> highlights are rebuilt from an inert parse.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  let apiKey = '';

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === 'class') node.className = value; else node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // The daemon HTML-escapes snippets and adds only <em>. Keep exactly that: text and <em>.
  function snippetNode(html) {
    const doc = new DOMParser().parseFromString('<body>' + html, 'text/html');
    const out = el('span', {class: 'snippet'});
    const copy = (from, to) => {
      for (const child of from.childNodes) {
        if (child.nodeType === Node.TEXT_NODE) to.append(child.textContent);
        else if (child.nodeType === Node.ELEMENT_NODE && child.tagName === 'EM') copy(child, to.appendChild(el('em')));
        else if (child.nodeType === Node.ELEMENT_NODE) copy(child, to);
      }
    };
    copy(doc.body, out);
    return out;
  }

  function fixed(x, digits) { return typeof x === 'number' ? x.toFixed(digits) : '–'; }

  function showError(status, body) {
    const box = $('error');
    box.replaceChildren();
    const type = body && body.error ? body.error.type : 'http_' + status;
    const reason = body && body.error ? body.error.reason : 'no JSON error in the answer';
    box.append(el('span', {class: 'code'}, status + ' ' + type), reason);
    box.hidden = false;
  }

  function clearResults() {
    $('error').hidden = true;
    $('summary').hidden = true;
    $('summary').replaceChildren();
    $('hits').replaceChildren();
    $('rag').hidden = true;
  }

  async function call(method, path, body) {
    const headers = {'Authorization': 'Bearer ' + apiKey};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body),
                                    cache: 'no-store', credentials: 'omit'});
    } catch (e) {
      return {status: 0, body: {error: {type: 'network_error', reason: String(e)}}};
    }
    let parsed = null;
    try { parsed = await response.json(); } catch (e) { parsed = null; }
    return {status: response.status, body: parsed};
  }

  async function connect(event) {
    event.preventDefault();
    apiKey = $('api-key').value.trim();
    clearResults();
    const {status, body} = await call('GET', '/v1/stats');
    const list = $('container-list');
    if (status !== 200) {
      $('containers').disabled = true;
      list.textContent = 'Connect to list the key\'s containers.';
      $('connection').textContent = 'Not connected.';
      showError(status, body);
      return;
    }
    list.replaceChildren();
    const names = Object.keys(body.containers || {}).sort();
    for (const name of names) {
      const box = el('input', {type: 'checkbox', value: name, 'data-container': name});
      list.append(el('label', {}, box, ' ' + name + ' ', el('span', {class: 'muted'}, '(' + body.containers[name].chunks + ')')));
    }
    if (names.length === 0) list.textContent = 'This key may read no container with chunks yet.';
    $('containers').disabled = false;
    $('connection').textContent = 'Connected: ' + names.length + ' container(s), ' + body.chunks +
        ' chunks, index at change ' + (body.watermark ? body.watermark.seq : '?') + '.';
  }

  function request() {
    const req = {
      query: $('query').value,
      k: Number($('k').value) || 10,
      mode: $('mode').value,
      search_type: $('search-type').value,
      group_by: $('group-by').value,
    };
    // A search must name its scope: the ticked containers; with none ticked, the principal's
    // containers if one is given, else every container listed for the key.
    const ticked = [...document.querySelectorAll('#container-list input:checked')].map((b) => b.value);
    const listed = [...document.querySelectorAll('#container-list input')].map((b) => b.value);
    const principal = $('principal').value.trim();
    if (principal) req.principal = principal;
    if (ticked.length > 0) req.container_ids = ticked;
    else if (!principal && listed.length > 0) req.container_ids = listed;
    return req;
  }

  function summary(body) {
    const box = $('summary');
    const q = body.query || {};
    const intent = q.intent || {};
    const w = body.weights || {};
    box.append(
      el('span', {id: 'intent'}, 'intent ', el('b', {}, intent.name || '–'), ' (' + fixed(intent.confidence, 2) + ')'),
      el('span', {}, 'language ' + (q.language || '–')));
    if (body.weights) {  // /v1/context does not report them
      box.append(
          el('span', {id: 'weights'}, 'weights vector ' + fixed(w.vector, 2) + ' · keyword ' + fixed(w.keyword, 2) +
             ' · fulltext ' + fixed(w.fulltext, 2)),
          el('span', {}, 'fusion ' + body.fusion), el('span', {}, 'threshold ' + fixed(body.threshold, 2)));
    }
    box.append(
      el('span', {}, fixed(body.took_ms, 1) + ' ms' + (body.cached ? ' (cached)' : '')));
    if (body.degraded) box.append(el('span', {class: 'flag'}, 'degraded: ' + (body.degraded_reason || 'no vector retriever')));
    if (body.timed_out) box.append(el('span', {class: 'flag'}, 'timed out'));
    if (q.synonyms && q.synonyms.length) box.append(el('div', {class: 'muted'}, 'synonyms: ' + q.synonyms.join(', ')));
    box.hidden = false;
  }

  function explainTable(explain) {
    const table = el('table', {class: 'explain'},
        el('tr', {}, el('th', {}, 'retriever'), el('th', {}, 'rank'), el('th', {}, 'score'),
           el('th', {}, 'normalized'), el('th', {}, 'matched terms')));
    for (const name of ['vector', 'keyword', 'fulltext']) {
      const e = explain ? explain[name] : null;
      table.append(e
        ? el('tr', {'data-retriever': name}, el('td', {}, name), el('td', {class: 'num'}, e.rank),
             el('td', {class: 'num'}, fixed(e.score, 3)), el('td', {class: 'num'}, fixed(e.normalized, 3)),
             el('td', {}, (e.matched_terms || []).join(' ')))
        : el('tr', {'data-retriever': name}, el('td', {}, name), el('td', {class: 'num'}, '–'),
             el('td', {class: 'muted', colspan: '3'}, 'not returned')));
    }
    return table;
  }

  function hitNode(hit) {
    const head = el('div', {class: 'head'},
        el('span', {class: 'rank'}, hit.rank === undefined ? '' : hit.rank + '.'),
        el('span', {class: 'title'}, hit.title || hit.doc_id),
        el('span', {class: 'score'}, fixed(hit.score, 3)));
    const item = el('li', {class: 'hit', 'data-chunk-id': hit.chunk_id},
        head,
        el('div', {class: 'where'}, hit.container_id + ' · ' + hit.doc_id + (hit.heading ? ' · ' + hit.heading : '')),
        snippetNode(hit.snippet || ''),
        explainTable(hit.explain));
    for (const more of hit.more_chunks || []) {
      item.append(el('div', {class: 'more'}, el('span', {class: 'score'}, fixed(more.score, 3) + ' '),
                     el('span', {class: 'where'}, more.heading || more.chunk_id), ' ', snippetNode(more.snippet || '')));
    }
    return item;
  }

  async function search(event) {
    event.preventDefault();
    clearResults();
    const {status, body} = await call('POST', '/v1/search', request());
    if (status !== 200) { showError(status, body); return; }
    summary(body);
    const hits = $('hits');
    if (!body.hits.length) hits.append(el('li', {class: 'muted'}, 'No hits.'));
    for (const hit of body.hits) hits.append(hitNode(hit));
  }

  async function context() {
    if (!$('search-form').reportValidity()) return;
    clearResults();
    const req = request();
    delete req.group_by;
    delete req.search_type;
    req.k = Math.min(req.k, 5);
    const {status, body} = await call('POST', '/v1/context', req);
    if (status !== 200) { showError(status, body); return; }
    summary(body);
    $('rag-meta').textContent = '(' + body.chars + ' characters' + (body.truncated ? ', truncated' : '') + ')';
    $('rag-text').textContent = body.context;
    const list = $('citations');
    list.replaceChildren();
    for (const c of body.citations) {
      list.append(el('li', {value: String(c.number), 'data-chunk-id': c.chunk_id},
          el('b', {}, c.title || c.doc_id), ' ',
          el('span', {class: 'where'}, c.container_id + ' · ' + c.doc_id + (c.heading ? ' · ' + c.heading : '') +
             ' · chars ' + c.char_begin + '–' + c.char_end + ' · score ' + fixed(c.score, 3))));
    }
    $('rag').hidden = false;
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('key-form').addEventListener('submit', connect);
    $('search-form').addEventListener('submit', search);
    $('context').addEventListener('click', context);
  });
})();
