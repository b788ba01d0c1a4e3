// The leaderboard: GET /v1/leaderboard for both periods, shown as tables of
// accounts and of sites, and fetched again whenever /v1/credit/events says
// the ledger moved. Account and site names are volunteers' choice: they go
// in as text, never as markup.
const $ = (id) => document.getElementById(id);

// 1234567 → "1.23 million": credit is counted in instructions.
export function amount(n) {
  n = Number(n);
  for (const [d, u] of [[1e15, 'quadrillion'], [1e12, 'trillion'], [1e9, 'billion'], [1e6, 'million'], [1e3, 'thousand']]) {
    if (n >= d) return (n / d).toPrecision(3) + ' ' + u;
  }
  return String(n);
}

function cell(tr, text, href) {
  const td = document.createElement('td');
  if (href) {
    const a = document.createElement('a');
    a.href = href;
    a.textContent = text;
    td.appendChild(a);
  } else {
    td.textContent = text;
  }
  tr.appendChild(td);
}

async function getJSON(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

let shown = -1; // the ledger version on screen

function fill(period, b) {
  const rows = $('rows-' + period);
  rows.replaceChildren();
  for (const a of b.accounts) {
    const tr = document.createElement('tr');
    tr.dataset.account = a.account;
    tr.dataset.credit = String(a.credit);
    cell(tr, String(a.rank));
    cell(tr, a.account, '/volunteer/' + encodeURIComponent(a.account));
    cell(tr, amount(a.credit));
    cell(tr, String(a.verified_links));
    rows.appendChild(tr);
  }
  $('note-' + period).textContent = b.accounts_ranked === 0
    ? (period === 'all' ? 'No account has verified credit yet.' : 'No verified credit in the last 7 days.')
    : (b.accounts_ranked > b.accounts.length ? `The first ${b.accounts.length} of ${b.accounts_ranked} accounts.` : `${b.accounts_ranked} accounts.`);
  const srows = $('site-rows-' + period);
  srows.replaceChildren();
  for (const s of b.sites) {
    const tr = document.createElement('tr');
    cell(tr, String(s.rank));
    cell(tr, s.site);
    cell(tr, amount(s.credit));
    cell(tr, String(s.accounts));
    srows.appendChild(tr);
  }
  $('site-note-' + period).textContent = b.sites_ranked === 0 ? 'No site has verified credit here.' : `${b.sites_ranked} sites.`;
}

export async function load() {
  const [all, week] = await Promise.all([getJSON('/v1/leaderboard?period=all'), getJSON('/v1/leaderboard?period=7d')]);
  fill('all', all);
  fill('7d', week);
  $('since').textContent = `(since ${week.since}, UTC)`;
  shown = Math.min(all.version, week.version);
  $('status').textContent = `Ledger entry ${shown}; as of ${new Date(all.generated_at).toLocaleString()}.`;
  return shown;
}

// Live: an event per ledger change; the board is fetched when it is newer
// than what is shown. If the stream is refused (too many listeners), a
// slow poll instead.
function live() {
  if (typeof EventSource !== 'function') return;
  const es = new EventSource('/v1/credit/events');
  es.addEventListener('open', () => { $('live').className = 'on'; $('live').textContent = 'live'; });
  es.addEventListener('credit', (e) => {
    const v = JSON.parse(e.data).version;
    if (v > shown) load().catch(show);
  });
  es.addEventListener('error', () => {
    $('live').className = '';
    if (es.readyState === EventSource.CLOSED) {
      $('live').textContent = 'refreshing every 30 s';
      setInterval(() => load().catch(show), 30_000);
    } else {
      $('live').textContent = 'reconnecting…';
    }
  });
}

function show(e) { $('status').textContent = 'Could not load the leaderboard: ' + e.message; }

load().catch(show);
live();
globalThis.crowdrunBoard = { load, shown: () => shown };
