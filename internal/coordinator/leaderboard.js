// The leaderboard: GET /v1/credit, shown as two tables, accounts and
// sites. Account and site names are volunteers' choice: they go in as
// text, never as markup.
const $ = (id) => document.getElementById(id);
const DAY = 86400000;

// 1234567 → "1.23 M"; fuel is counted in instructions.
function fuel(n) {
  for (const [d, u] of [[1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']]) {
    if (n >= d) return (n / d).toPrecision(3) + ' ' + u;
  }
  return String(n);
}

function cell(tr, text) {
  const td = document.createElement('td');
  td.textContent = text;
  tr.appendChild(td);
}

async function load() {
  const r = await fetch('/v1/credit', { cache: 'no-store' });
  if (!r.ok) throw new Error(`/v1/credit: HTTP ${r.status}`);
  const body = await r.json();
  // "Last 7 days" by the coordinator's clock (its Date header), today included.
  const served = Date.parse(r.headers.get('Date') || '');
  const today = Math.floor((Number.isNaN(served) ? Date.now() : served) / DAY);
  const from = new Date((today - 6) * DAY).toISOString().slice(0, 10);
  const rows = $('rows');
  rows.replaceChildren();
  let rank = 0;
  for (const a of body.accounts || []) {
    const week = (a.days || []).filter((d) => d.day >= from).reduce((s, d) => s + Number(d.fuel), 0);
    const tr = document.createElement('tr');
    if (a.banned) tr.className = 'banned';
    cell(tr, a.banned ? '' : String(++rank));
    cell(tr, a.account);
    cell(tr, fuel(Number(a.total)));
    cell(tr, fuel(week));
    cell(tr, String(a.verified_links));
    cell(tr, String(a.audits_passed));
    cell(tr, a.banned ? `${a.lies_caught} (banned)` : String(a.lies_caught));
    rows.appendChild(tr);
  }
  $('board').hidden = rank === 0 && rows.children.length === 0;
  $('status').textContent = rows.children.length === 0
    ? 'No account has credit yet.'
    : `${rank} accounts; last 7 days: since ${from} (UTC).`;
  const srows = $('site-rows');
  srows.replaceChildren();
  for (const [i, st] of (body.sites || []).entries()) {
    const week = (st.days || []).filter((d) => d.day >= from).reduce((s, d) => s + Number(d.fuel), 0);
    const tr = document.createElement('tr');
    cell(tr, String(i + 1));
    cell(tr, st.site);
    cell(tr, fuel(Number(st.total)));
    cell(tr, fuel(week));
    cell(tr, String((st.accounts || []).length));
    srows.appendChild(tr);
  }
  $('sites').hidden = srows.children.length === 0;
  $('site-status').textContent = srows.children.length === 0 ? 'No site has credit yet.' : `${srows.children.length} sites.`;
}

load().catch((e) => { $('status').textContent = 'Could not load the credit: ' + e.message; });
