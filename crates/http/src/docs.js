// Renders the OpenAPI document as a list of operations (served apart from the page, so that
// the page needs no inline script).
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
const schemaName = (s) => s && s.$ref ? s.$ref.split('/').pop() : (s && s.type === 'array' && s.items ? schemaName(s.items) + '[]' : (s && s.type) || '');
fetch('openapi.json').then((r) => r.json()).then((doc) => {
  document.getElementById('about').innerHTML = esc(doc.info.description) + ' Document: <a href="openapi.json">openapi.json</a> (OpenAPI ' + esc(doc.openapi) + ').';
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const params = (op.parameters || []).map((p) => `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${esc(p.description)}</td></tr>`).join('');
      const responses = Object.entries(op.responses || {}).map(([code, r]) => {
        const schema = r.content && r.content['application/json'] ? schemaName(r.content['application/json'].schema) : '';
        return `<tr><td>${esc(code)}</td><td>${esc(schema)}</td><td>${esc(r.description)}</td></tr>`;
      }).join('');
      out.push(`<div class="op"><div><span class="method">${esc(method.toUpperCase())}</span><code>${esc(path)}</code></div>
        <p>${esc(op.description || op.summary || '')}</p>
        ${params ? `<table><tr><th>parameter</th><th>in</th><th></th></tr>${params}</table>` : ''}
        <table><tr><th>status</th><th>body</th><th></th></tr>${responses}</table></div>`);
    }
  }
  out.push('<h2>Schemas</h2>');
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    out.push(`<div class="op"><code>${esc(name)}</code><pre>${esc(JSON.stringify(schema, null, 2))}</pre></div>`);
  }
  document.getElementById('ops').innerHTML = out.join('');
}).catch((e) => { document.getElementById('about').textContent = 'Could not load openapi.json: ' + e; });
