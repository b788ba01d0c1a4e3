// A volunteer's page, /volunteer/ACCOUNT: GET /v1/volunteers/ACCOUNT shown
// as figures and a uPlot chart of the credit over time, fetched again
// whenever /v1/credit/events says the ledger moved.
const $ = (id) => document.getElementById(id);
const DAY = 86400;

function amount(n) {
  n = Number(n);
  for (const [d, u] of [[1e15, 'quadrillion'], [1e12, 'trillion'], [1e9, 'billion'], [1e6, 'million'], [1e3, 'thousand']]) {
    if (n >= d) return (n / d).toPrecision(3) + ' ' + u;
  }
  return String(n);
}

const account = decodeURIComponent(location.pathname.replace(/^\/volunteer\//, ''));
$('account').textContent = account;
document.title = account + ' — crowdrun volunteer';

let shown = -1;
let chart = null;

// series: every day from the first one with credit (or 30 days back, if
// that is earlier: a new volunteer's one day is not a whole chart) to
// today, with the day's credit and the running total (uPlot wants seconds
// on x).
export function series(days, today) {
  const x = [], perDay = [], total = [];
  const at = (s) => Date.parse(s + 'T00:00:00Z') / 1000;
  const byDay = new Map(days.map((d) => [at(d.day), Number(d.fuel)]));
  const last = Math.max(at(today), days.length ? at(days[days.length - 1].day) : 0);
  const first = Math.min(last - 29 * DAY, days.length ? at(days[0].day) : last);
  let sum = 0;
  for (let t = first; t <= last; t += DAY) {
    const f = byDay.get(t) || 0;
    sum += f;
    x.push(t);
    perDay.push(f);
    total.push(sum);
  }
  return [x, perDay, total];
}

function draw(data) {
  const el = $('chart');
  const width = Math.max(320, Math.min(el.clientWidth || 900, 1000));
  if (chart) {
    chart.setData(data);
    return;
  }
  chart = new uPlot({
    width, height: 300,
    // Half a day either side, so the first and last bars show whole.
    scales: { x: { time: true, range: (u, min, max) => [min - DAY / 2, max + DAY / 2] }, day: {}, total: {} },
    axes: [
      {},
      { scale: 'total', values: (u, vs) => vs.map(amount), size: 90 },
      { scale: 'day', side: 1, values: (u, vs) => vs.map(amount), size: 90, grid: { show: false } },
    ],
    series: [
      { value: '{YYYY}-{MM}-{DD}' },
      { label: 'that day', scale: 'day', stroke: '#7aa6d8', fill: 'rgba(122,166,216,.45)', paths: uPlot.paths.bars({ size: [0.6, 40] }), points: { show: false }, value: (u, v) => (v == null ? '–' : amount(v)) },
      { label: 'in total', scale: 'total', stroke: '#1b5e20', width: 2, points: { show: false }, value: (u, v) => (v == null ? '–' : amount(v)) },
    ],
  }, data, el);
}

export async function load() {
  const r = await fetch('/v1/volunteers/' + encodeURIComponent(account), { cache: 'no-store' });
  if (r.status === 404) {
    $('status').textContent = 'No verified work of this account yet: it appears once its first work is checked.';
    return shown;
  }
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  const v = await r.json();
  $('banned').hidden = !v.banned;
  $('credit').textContent = amount(v.credit);
  $('week').textContent = amount(v.last_7_days);
  $('rank-all').textContent = v.rank_all ? `#${v.rank_all} of ${v.accounts_ranked}` : 'not ranked';
  $('rank-7d').textContent = v.rank_7d ? `#${v.rank_7d} (since ${v.since})` : `not ranked (since ${v.since})`;
  $('links').textContent = String(v.verified_links);
  $('audits').textContent = String(v.audits_passed);
  const data = series(v.days, v.today);
  draw(data);
  const rows = $('site-rows');
  rows.replaceChildren();
  v.sites.forEach((s, i) => {
    const tr = document.createElement('tr');
    for (const t of [String(i + 1), s.site, amount(s.fuel)]) {
      const td = document.createElement('td');
      td.textContent = t;
      tr.appendChild(td);
    }
    rows.appendChild(tr);
  });
  $('sites').hidden = v.sites.length === 0;
  $('sites-none').hidden = v.sites.length !== 0;
  shown = v.version;
  $('status').textContent = `Ledger entry ${shown}; today is ${v.today} (UTC).`;
  return shown;
}

function live() {
  if (typeof EventSource !== 'function') return;
  const es = new EventSource('/v1/credit/events');
  es.addEventListener('open', () => { $('live').className = 'on'; $('live').textContent = 'live'; });
  es.addEventListener('credit', (e) => {
    if (JSON.parse(e.data).version > shown) load().catch(show);
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

function show(e) { $('status').textContent = 'Could not load the credit: ' + e.message; }

load().catch(show);
live();
globalThis.crowdrunVolunteer = { load, chart: () => chart, shown: () => shown };
