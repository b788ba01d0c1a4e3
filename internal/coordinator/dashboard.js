// crowdrun's dashboard: a job owner's jobs, one job's plots, tasks and
// results, and the operator's overview. Plain ES module, no build step;
// uPlot (the global the IIFE defines) draws the plots.
//
// The API token is kept in sessionStorage and sent as Authorization:
// Bearer: no cookie, so no other site can act with it. Live updates come
// from GET /v1/events, read with fetch (EventSource cannot send the
// header) and parsed as server-sent events.

/* global uPlot */

const TOKEN_KEY = 'crowdrun.token';
const $ = (id) => document.getElementById(id);

let token = sessionStorage.getItem(TOKEN_KEY) || '';
let viewAbort = null; // ends the current view's stream and fetches
let isOperator = false;

class HTTPError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, signal) {
  const r = await fetch(path, { headers: { Authorization: 'Bearer ' + token }, signal });
  if (!r.ok) {
    let code = 'http_' + r.status;
    let msg = r.statusText;
    try {
      const e = await r.json();
      code = e.error.code;
      msg = e.error.message;
    } catch { /* not the API's JSON error */ }
    throw new HTTPError(r.status, code, msg);
  }
  return r;
}

const json = async (path, signal) => (await api(path, signal)).json();

// stream reads server-sent events from path until signal aborts,
// reconnecting after a break; on(name, data) gets each event's JSON.
async function stream(path, signal, on) {
  const live = $('live');
  while (!signal.aborted) {
    try {
      const r = await api(path, signal);
      live.textContent = '● live';
      live.className = 'live on';
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let name = 'message';
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) name = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) on(name, JSON.parse(data.join('\n')));
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof HTTPError && (e.status === 401 || e.status === 403 || e.status === 404)) {
        showError(e.message);
        return;
      }
    }
    live.textContent = '○ reconnecting';
    live.className = 'live';
    await new Promise((res) => setTimeout(res, 2000));
  }
}

// ---- formatting ----

const nf = new Intl.NumberFormat('en');
const fmt = (n) => nf.format(n);
function si(n) {
  const units = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  if (!i) return Number.isInteger(n) ? String(n) : n.toFixed(Math.abs(n) < 10 ? 2 : 1);
  return n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0) + units[i];
}
function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
}
const when = (s) => (s ? new Date(s).toLocaleString() : '');

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function showError(msg) {
  const v = $('view');
  v.replaceChildren(el('p', { class: 'error', role: 'alert', id: 'view-error', text: msg }));
}

function progress(job) {
  const t = job.tasks;
  const p = el('progress', { max: String(Math.max(t.total, 1)), value: String(t.done + t.disputed + t.cancelled) });
  p.title = `${t.done} done, ${t.disputed} disputed, ${t.cancelled} cancelled of ${t.total}`;
  return p;
}

// ---- the owner's jobs ----

function jobsView(signal) {
  const tbody = el('tbody');
  const table = el('table', { id: 'jobs' },
    el('thead', {}, el('tr', {}, ...['Job', 'Name', 'State', 'Progress', 'Tasks', 'Fuel', 'Created'].map((h) => el('th', { text: h })))), tbody);
  const empty = el('p', { id: 'jobs-empty', text: 'No jobs yet: submit one with crowdrun submit.' });
  empty.hidden = true;
  $('view').replaceChildren(el('h2', { text: 'Your jobs' }), table, empty);
  stream('/v1/events', signal, (name, data) => {
    if (name !== 'jobs') return;
    empty.hidden = data.jobs.length > 0;
    tbody.replaceChildren(...data.jobs.map((j) => {
      const t = j.tasks;
      return el('tr', { 'data-job': String(j.id), class: 'state-' + j.state },
        el('td', {}, el('a', { href: '#/jobs/' + j.id, text: '#' + j.id })),
        el('td', { text: j.name || '—' }),
        el('td', { class: 'state', text: j.state }),
        el('td', {}, progress(j)),
        el('td', { class: 'tasks', text: `${fmt(t.done + t.disputed)} / ${fmt(t.total)}` }),
        el('td', { class: 'fuel', text: si(t.fuel) }),
        el('td', { text: when(j.created_at) }));
    }));
  });
}

// ---- one job ----

const PLOTS = [
  { id: 'plot-tasks', title: 'Tasks settled (cumulative)', series: [
    { label: 'done', key: 'tasks_done', cumulative: true, stroke: '#2a7' },
    { label: 'disputed', key: 'tasks_disputed', cumulative: true, stroke: '#d33' }] },
  { id: 'plot-fuel', title: 'Fuel per second (work saved by segments ending)', series: [
    { label: 'fuel/s', key: 'fuel_per_second', stroke: '#36c', fill: 'rgba(51,102,204,0.15)' }] },
  { id: 'plot-workers', title: 'Workers on this job (ending segments)', series: [
    { label: 'workers', key: 'workers', stroke: '#a5c' }] },
  { id: 'plot-checkpoints', title: 'Checkpoints accepted', series: [
    { label: 'checkpoints', key: 'checkpoints', stroke: '#c80' }] },
  { id: 'plot-lost', title: 'Work lost to churn (fuel)', series: [
    { label: 'fuel lost', key: 'fuel_lost', stroke: '#d33', fill: 'rgba(221,51,51,0.15)' }] },
  { id: 'plot-verify', title: 'Audits and disputes', series: [
    { label: 'audits', key: 'audits', stroke: '#2a7' },
    { label: 'verified on trusted ground', key: 'trusted', stroke: '#c80' },
    { label: 'disputed', key: 'tasks_disputed', stroke: '#d33' }] },
];

function columns(h, spec) {
  const data = [h.t];
  for (const s of spec.series) {
    let col = h[s.key].map(Number);
    if (s.cumulative) {
      let sum = 0;
      col = col.map((v) => (sum += v));
    }
    data.push(col);
  }
  return data;
}

function makePlot(spec, box) {
  const opts = {
    width: Math.max(box.clientWidth, 280), height: 180,
    scales: { x: { time: true } },
    axes: [{}, { size: 60, values: (u, vals) => vals.map((v) => si(v)) }],
    series: [{}, ...spec.series.map((s) => ({ label: s.label, stroke: s.stroke, fill: s.fill, width: 2, points: { show: false } }))],
  };
  return new uPlot(opts, [[], ...spec.series.map(() => [])], box);
}

const STATS = [
  ['stat-done', 'tasks done', (j) => fmt(j.tasks.done)],
  ['stat-total', 'tasks', (j) => fmt(j.tasks.total)],
  ['stat-disputed', 'disputed', (j) => fmt(j.tasks.disputed)],
  ['stat-pending', 'pending', (j) => fmt(j.tasks.pending)],
  ['stat-running', 'replicas running', (j) => fmt(j.tasks.running)],
  ['stat-queued', 'replicas queued', (j) => fmt(j.tasks.queued)],
  ['stat-fuel', 'fuel of results', (j) => fmt(j.tasks.fuel)],
  ['stat-checkpoints', 'checkpoints', (j) => fmt(j.checkpointing?.checkpoints ?? 0)],
  ['stat-resumes', 'resumes', (j) => fmt(j.checkpointing?.resumes ?? 0)],
  ['stat-lost', 'segments lost', (j) => fmt(j.checkpointing?.lost_segments ?? 0)],
  ['stat-fuel-lost', 'fuel lost', (j) => fmt(j.checkpointing?.fuel_lost ?? 0)],
  ['stat-audits', 'audits', (j) => fmt(j.trust.audits)],
  ['stat-disputes', 'disputes re-run', (j) => fmt(j.trust.disputes)],
  ['stat-lies', 'lies caught', (j) => fmt(j.trust.lies_caught)],
];

function jobView(id, signal) {
  const title = el('h2', { id: 'job-title', text: 'Job #' + id });
  const state = el('span', { id: 'job-state', class: 'badge' });
  const bar = el('div', { id: 'job-progress' });
  const stats = el('dl', { id: 'job-stats', class: 'stats' });
  const cells = {};
  for (const [sid, label] of STATS) {
    cells[sid] = el('dd', { id: sid, text: '…' });
    stats.append(el('div', {}, el('dt', { text: label }), cells[sid]));
  }
  const grid = el('div', { class: 'plots' });
  const boxes = PLOTS.map((p) => {
    const box = el('div', { id: p.id, class: 'plot' });
    grid.append(el('figure', {}, el('figcaption', { text: p.title }), box));
    return box;
  });
  const step = el('p', { id: 'job-step', class: 'muted' });
  const download = el('button', { type: 'button', id: 'download' , text: 'Download results (NDJSON)' });
  const dlStatus = el('span', { id: 'download-status', class: 'muted' });
  const filter = el('select', { id: 'task-state' },
    ...['', 'pending', 'done', 'disputed', 'cancelled'].map((s) => el('option', { value: s, text: s || 'every state' })));
  const tbody = el('tbody', { id: 'tasks-body' });
  const more = el('button', { type: 'button', id: 'tasks-more', text: 'More tasks' });
  more.hidden = true;
  $('view').replaceChildren(
    el('p', {}, el('a', { href: '#/jobs', text: '← your jobs' })),
    el('div', { class: 'title' }, title, state), bar, stats,
    el('h3', { text: 'Over time' }), step, grid,
    el('h3', { text: 'Results' }), el('p', {}, download, ' ', dlStatus),
    el('h3', { text: 'Tasks' }), el('p', {}, el('label', { for: 'task-state', text: 'State: ' }), filter),
    el('table', { id: 'tasks' }, el('thead', {}, el('tr', {}, ...['Task', 'State', 'Status', 'Exit', 'Fuel', 'Verified by', 'Finished'].map((h) => el('th', { text: h })))), tbody),
    more);

  let plots = null;
  let settled = -1;
  stream('/v1/events?job=' + id, signal, (name, data) => {
    if (name !== 'job') return;
    const j = data.job;
    const h = data.history;
    // Tasks settled since the list was read: read its first page again.
    const n = j.tasks.done + j.tasks.disputed + j.tasks.cancelled;
    if (settled >= 0 && n !== settled) loadTasks(true).catch((e) => { if (!signal.aborted) showError(e.message); });
    settled = n;
    title.textContent = `Job #${j.id}` + (j.name ? ` · ${j.name}` : '');
    state.textContent = j.state;
    state.className = 'badge state-' + j.state;
    bar.replaceChildren(progress(j), el('span', { text: ` ${fmt(j.tasks.done + j.tasks.disputed)} of ${fmt(j.tasks.total)} tasks settled` }));
    for (const [sid, , f] of STATS) cells[sid].textContent = f(j);
    step.textContent = `${h.t.length} buckets of ${h.step_ms / 1000} s since ${when(h.start)}, from the store's records`;
    if (!plots) plots = PLOTS.map((p, i) => makePlot(p, boxes[i]));
    PLOTS.forEach((p, i) => {
      const cols = columns(h, p);
      plots[i].setData(cols);
      // What each plot shows, in numbers: the tests compare them with the store.
      boxes[i].dataset.totals = JSON.stringify(p.series.map((s) => h[s.key].reduce((a, b) => a + Number(b), 0)));
      boxes[i].dataset.points = String(h.t.length);
    });
  });

  let after = -1;
  let loading = 0; // the latest read: an older one's answer is dropped
  async function loadTasks(reset) {
    const mine = ++loading;
    const q = new URLSearchParams({ after: String(reset ? -1 : after), limit: '100' });
    if (filter.value) q.set('state', filter.value);
    const page = await json(`/v1/jobs/${id}/tasks?${q}`, signal);
    if (mine !== loading) return;
    if (reset) tbody.replaceChildren();
    for (const t of page.tasks) {
      tbody.append(el('tr', { 'data-task': String(t.index), class: 'state-' + t.state },
        el('td', { text: String(t.index) }), el('td', { class: 'state', text: t.state }), el('td', { text: t.status || '' }),
        el('td', { text: t.status ? String(t.exit_code) : '' }), el('td', { text: t.fuel ? fmt(t.fuel) : '' }),
        el('td', { text: t.verification || '' }), el('td', { text: when(t.finished_at) })));
    }
    more.hidden = page.next === undefined;
    if (page.next !== undefined) after = page.next;
    tbody.dataset.loaded = String(tbody.children.length);
    tbody.dataset.filter = filter.value;
  }
  filter.addEventListener('change', () => loadTasks(true).catch((e) => showError(e.message)));
  more.addEventListener('click', () => loadTasks(false).catch((e) => showError(e.message)));
  loadTasks(true).catch((e) => { if (!signal.aborted) showError(e.message); });

  download.addEventListener('click', async () => {
    dlStatus.textContent = 'downloading…';
    try {
      const blob = await (await api(`/v1/jobs/${id}/results`, signal)).blob();
      const text = await blob.text();
      const lines = text.split('\n').filter((l) => l).length;
      const a = el('a', { href: URL.createObjectURL(blob), download: `job-${id}-results.ndjson` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
      dlStatus.textContent = `${lines} results, ${bytes(blob.size)}`;
      dlStatus.dataset.lines = String(lines);
    } catch (e) {
      dlStatus.textContent = e.message;
    }
  });
}

// ---- the operator's overview ----

const KINDS = [['native', '#36c'], ['browser', '#2a7'], ['node', '#c80'], ['other', '#999']];

function overviewView(signal) {
  const stats = el('dl', { id: 'overview-stats', class: 'stats' });
  const cells = {};
  for (const [sid, label] of [['ov-workers', 'workers online'], ...KINDS.map(([k]) => ['ov-' + k, k]), ['ov-slots', 'slots'],
    ['ov-queued', 'replicas queued'], ['ov-store', 'store size']]) {
    cells[sid] = el('dd', { id: sid, text: '…' });
    stats.append(el('div', {}, el('dt', { text: label }), cells[sid]));
  }
  const wbox = el('div', { id: 'plot-online', class: 'plot' });
  const qbox = el('div', { id: 'plot-queue', class: 'plot' });
  $('view').replaceChildren(el('h2', { text: 'Coordinator overview' }), stats,
    el('div', { class: 'plots' },
      el('figure', {}, el('figcaption', { text: 'Workers online by kind (sampled each second, this coordinator)' }), wbox),
      el('figure', {}, el('figcaption', { text: 'Replicas queued' }), qbox)));
  let wplot = null;
  let qplot = null;
  stream('/v1/events?overview=1', signal, (name, o) => {
    if (name !== 'overview') return;
    let total = 0;
    for (const [k] of KINDS) { cells['ov-' + k].textContent = fmt(o.workers[k] ?? 0); total += o.workers[k] ?? 0; }
    cells['ov-workers'].textContent = fmt(total);
    cells['ov-slots'].textContent = fmt(o.slots);
    cells['ov-queued'].textContent = fmt(o.queued);
    cells['ov-store'].textContent = bytes(o.store_bytes);
    const s = o.samples;
    if (!wplot) {
      wplot = new uPlot({ width: Math.max(wbox.clientWidth, 280), height: 200, scales: { x: { time: true } },
        series: [{}, ...KINDS.map(([k, c]) => ({ label: k, stroke: c, width: 2, points: { show: false } }))] }, [[], ...KINDS.map(() => [])], wbox);
      qplot = new uPlot({ width: Math.max(qbox.clientWidth, 280), height: 200, scales: { x: { time: true } },
        series: [{}, { label: 'queued', stroke: '#a5c', width: 2, points: { show: false } }] }, [[], []], qbox);
    }
    wplot.setData([s.t, ...KINDS.map(([k]) => s.by_kind[k])]);
    qplot.setData([s.t, s.queued]);
    wbox.dataset.points = String(s.t.length);
    wbox.dataset.last = JSON.stringify(KINDS.map(([k]) => s.by_kind[k].at(-1) ?? 0));
  });
}

// ---- routing and sign-in ----

async function route() {
  if (viewAbort) viewAbort.abort();
  viewAbort = new AbortController();
  const signal = viewAbort.signal;
  if (!token) {
    $('nav').hidden = true;
    $('signin').hidden = false;
    $('view').replaceChildren();
    $('live').textContent = '○ offline';
    $('live').className = 'live';
    return;
  }
  $('signin').hidden = true;
  $('nav').hidden = false;
  $('nav-overview').hidden = !isOperator;
  const m = location.hash.match(/^#\/jobs\/(\d+)$/);
  if (m) jobView(m[1], signal);
  else if (location.hash === '#/overview') overviewView(signal);
  else jobsView(signal);
}

// signIn checks a token against the API before keeping it.
async function signIn(t) {
  token = t;
  try {
    await json('/v1/jobs');
  } catch (e) {
    token = '';
    throw e;
  }
  try {
    await json('/v1/overview');
    isOperator = true;
  } catch {
    isOperator = false;
  }
  sessionStorage.setItem(TOKEN_KEY, t);
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('signin-error').textContent = '';
  try {
    await signIn($('token').value.trim());
    $('token').value = '';
    route();
  } catch (e) {
    $('signin-error').textContent = e.message;
  }
});

$('signout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  token = '';
  isOperator = false;
  route();
});

window.addEventListener('hashchange', route);

if (token) {
  signIn(token).then(route, () => { sessionStorage.removeItem(TOKEN_KEY); route(); });
} else {
  route();
}
