// Skiff API explorer: renders /openapi.json with DOM methods only (every name comes from a service's
// announcement, so nothing is ever written as HTML) and sends requests through the gateway with fetch.
'use strict';
(function () {
  const main = document.getElementById('routes');
  const status = document.getElementById('status');

  // Printable.keepingLines's rule (platform-layer), as the kernel's pages and the command line show text: control
  // and format characters (ESC, bidi overrides, zero-width), line and paragraph separators, lone surrogates and
  // unassigned code points as \uXXXX; line feeds and tabs kept. Inside a JSON string the result is the same JSON.
  const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Cn}]/gu;
  const printable = s => String(s ?? '').replace(UNSAFE, c => c === '\n' || c === '\t' ? c
    : [...Array(c.length).keys()].map(i => '\\u' + c.charCodeAt(i).toString(16).padStart(4, '0')).join(''));

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children) e.append(typeof c === 'string' ? printable(c) : c);
    return e;
  }

  function example(schema, components, depth) {
    if (!schema || depth > 4) return null;
    if (schema.$ref) {
      return example(components[schema.$ref.replace('#/components/schemas/', '')], components, depth + 1);
    }
    switch (schema.type) {
      case 'object': {
        const out = {};
        for (const [name, s] of Object.entries(schema.properties || {})) out[name] = example(s, components, depth + 1);
        return out;
      }
      case 'array': return [];
      case 'integer': case 'number': return 0;
      case 'boolean': return false;
      case 'string': return schema.enum ? schema.enum[0] : '';
      default: return null;
    }
  }

  function operation(path, method, op, components) {
    const inputs = [];
    const params = el('div');
    for (const p of op.parameters || []) {
      const input = el('input', { 'data-name': p.name, 'data-in': p.in });
      inputs.push(input);
      params.append(el('label', {}, el('span', {}, p.name + (p.in === 'path' ? ' (path)' : ' (query)')), input));
    }
    let body = null;
    const content = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
    if (content) {
      body = el('textarea', { 'aria-label': 'request body (JSON)' });
      body.value = JSON.stringify(example(content.schema, components, 0), null, 2);
    }
    const send = el('button', { type: 'button', class: 'send' }, 'Send');
    const result = el('div', { class: 'result' });
    const panel = el('div', { class: 'body', hidden: '' }, params);
    if (body) panel.append(el('label', {}, 'Body (JSON)'), body);
    panel.append(send, result);
    // a button, so that the keyboard reaches it; it says whether the route is open
    const toggle = el('button', { type: 'button', class: 'toggle', 'aria-expanded': 'false' },
      el('span', { class: 'method ' + method.toUpperCase() }, method.toUpperCase()),
      el('span', { class: 'path' }, path), el('span', { class: 'operation' }, op.operationId || ''));
    if (op.summary) toggle.append(el('span', { class: 'summary' }, op.summary));
    const title = el('h2', {}, toggle);
    toggle.addEventListener('click', () => {
      panel.hidden = !panel.hidden;
      toggle.setAttribute('aria-expanded', String(!panel.hidden));
    });
    send.addEventListener('click', () => run(path, method, inputs, body, result));
    return el('section', { class: 'route', 'data-path': path, 'data-method': method.toUpperCase(),
      'data-operation': op.operationId || '' }, title, panel);
  }

  async function run(path, method, inputs, body, result) {
    let url = path;
    const query = new URLSearchParams();
    for (const i of inputs) {
      const name = i.getAttribute('data-name');
      if (i.getAttribute('data-in') === 'path') {
        url = url.replace('{' + name + '}', encodeURIComponent(i.value));
      } else if (i.value !== '') {
        query.append(name, i.value);
      }
    }
    if ([...query.keys()].length > 0) url += '?' + query.toString();
    const headers = { 'Accept': 'application/json' };
    const token = document.getElementById('token').value.trim();
    if (token) headers['Authorization'] = 'Bearer ' + token;
    const timeout = document.getElementById('timeout').value.trim();
    if (timeout) headers['X-Skiff-Timeout'] = timeout;
    const init = { method: method.toUpperCase(), headers };
    if (body) {
      headers['Content-Type'] = 'application/json';
      init.body = body.value;
    }
    result.replaceChildren(el('p', {}, 'Sending ' + init.method + ' ' + url + '…'));
    try {
      const r = await fetch(url, init);
      const text = await r.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON: shown as it came */ }
      result.replaceChildren(
        el('p', {}, el('span', { class: r.ok ? 'status-ok' : 'status-error' }, String(r.status)),
          ' request id ' + (r.headers.get('X-Request-Id') || '-')),
        el('pre', { class: 'answer' }, shown));
    } catch (e) {
      result.replaceChildren(el('p', { class: 'status-error' }, 'The request could not be sent: ' + e));
    }
  }

  function render(doc) {
    const components = (doc.components && doc.components.schemas) || {};
    const sections = [];
    for (const [path, methods] of Object.entries(doc.paths || {})) {
      for (const [method, op] of Object.entries(methods)) sections.push(operation(path, method, op, components));
    }
    if (sections.length === 0) {
      main.replaceChildren(el('p', {}, 'No service exposes an HTTP route right now.'));
      return;
    }
    const none = el('p', { id: 'no-match', hidden: '' });
    main.replaceChildren(...sections, none);
    const filter = document.getElementById('filter');
    filter.addEventListener('input', () => {
      const f = filter.value.toLowerCase();
      let shown = 0;
      for (const s of sections) {
        s.hidden = f !== '' && !(s.getAttribute('data-path') + ' ' + s.getAttribute('data-operation')).toLowerCase().includes(f);
        if (!s.hidden) shown++;
      }
      none.textContent = 'No route matches "' + printable(filter.value) + '".';
      none.hidden = shown > 0;
    });
  }

  // signing in: the password goes to the gateway's sign-in route and nowhere else (not kept by the page)
  const tokenInput = document.getElementById('token');
  const who = document.getElementById('who');
  const signOut = document.getElementById('sign-out-button');
  async function signInOrOut(path, body) {
    const init = { method: 'POST', headers: { 'Accept': 'application/json' } };
    if (body !== null) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (tokenInput.value.trim() && body === null) init.headers['Authorization'] = 'Bearer ' + tokenInput.value.trim();
    try {
      const r = await fetch(path, init);
      let answer = {};
      try { answer = JSON.parse(await r.text()); } catch (e) { /* not JSON */ }
      return { ok: r.ok, status: r.status, answer };
    } catch (e) {
      return { ok: false, status: 0, answer: { message: String(e) } };
    }
  }
  document.getElementById('sign-in-button').addEventListener('click', async () => {
    const password = document.getElementById('password');
    const r = await signInOrOut('/auth/v1/login', { user: document.getElementById('user').value, password: password.value });
    password.value = '';
    if (r.ok && typeof r.answer.token === 'string') {
      tokenInput.value = r.answer.token;
      who.className = 'status-ok';
      who.textContent = printable('Signed in as ' + r.answer.user + ' (' + ((r.answer.roles || []).join(', ') || 'no roles') + ')');
      signOut.hidden = false;
    } else {
      who.className = 'status-error';
      who.textContent = printable('Not signed in: ' + (r.answer.message || ('HTTP ' + r.status)));
    }
  });
  signOut.addEventListener('click', async () => {
    const r = await signInOrOut('/auth/v1/logout', null);
    tokenInput.value = '';
    signOut.hidden = true;
    who.className = r.ok ? 'status-ok' : 'status-error';
    who.textContent = printable(r.ok ? 'Signed out' : 'Signed out here; the gateway said: ' + (r.answer.message || ('HTTP ' + r.status)));
  });

  fetch('/openapi.json', { headers: { 'Accept': 'application/json' } })
    .then(r => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then(render)
    .catch(e => { status.textContent = 'The routes could not be loaded: ' + e; });
})();
