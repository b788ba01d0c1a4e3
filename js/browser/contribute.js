// The contribute page (/contribute, and /contribute?embed=1, the widget that
// embed.js frames on other sites). Consent rules (MISSION.md):
//   - nothing runs before the visitor presses the button; every load starts
//     off (consent is not remembered across visits);
//   - caps: parallel tasks (slots) and a CPU duty cycle;
//   - paused while the tab is hidden or the device is on battery, resumed
//     when allowed again;
//   - the visitor sees what would run and for whom, and the work done.
// The page's main thread only talks to the coordinator: guests run in Web
// Workers (one per slot).

import { NetWorker } from './client.js';
import { siteName } from './wire.js';
import { GuestClient, workerEndpoint } from '../protocol.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const embed = params.get('embed') === '1';
// /v1/contribute/me's last answer; the running count it was asked for.
let me = null;
let meTimer = 0;
let lastRunning = -1;
if (embed) document.body.classList.add('embed');

const store = {
  get(k, d) { try { const v = localStorage.getItem('crowdrun.' + k); return v === null ? d : JSON.parse(v); } catch { return d; } },
  set(k, v) { try { localStorage.setItem('crowdrun.' + k, JSON.stringify(v)); } catch { /* storage refused */ } },
};

// A stable, random worker id for this browser: the coordinator never gives
// it two replicas of one task, and credits its work to it.
let name = store.get('worker', '');
if (!/^browser-[0-9a-f]{16}$/.test(name)) {
  const r = new Uint8Array(8);
  crypto.getRandomValues(r);
  name = 'browser-' + [...r].map((b) => b.toString(16).padStart(2, '0')).join('');
  store.set('worker', name);
}

const cores = Math.max(1, (navigator.hardwareConcurrency || 2) - 1);
const clampInt = (v, lo, hi, d) => { const n = Math.floor(Number(v)); return n >= lo && n <= hi ? n : d; };
const maxSlots = clampInt(params.get('max_slots'), 1, 256, 256);
let slots = Math.min(maxSlots, clampInt(store.get('slots', params.get('slots')), 1, 256, cores));
let duty = clampInt(store.get('duty', params.get('duty')), 10, 100, embed ? 50 : 100);

// Work done by this browser, counted here; the coordinator's credit is
// fetched from /v1/contribute/credit.
// A guest worker silent this long while it runs is declared lost (the
// watchdog of protocol.js); ?stall_ms= changes it, for diagnostics and tests.
const stallMs = clampInt(params.get('stall_ms'), 500, 600_000, 30_000);

const local = store.get('local', { tasks: 0, fuel: '0' });
let counted = { tasks: 0, fuel: 0n };

// ?token=: a volunteer token (crowdrun token create --kind volunteer), sent
// in hello so the work is credited to its account; without one it is
// credited to anon:<this browser's id>. Not stored: it is a secret.
const token = params.get('token') || '';

// ?site=: the web site this contribution is for (embed.js passes its
// data-site), sent in hello: the site's credit on /v1/credit and the
// leaderboard shows the credit of the work done under its name.
// Attribution only — in every other respect the work is this browser's
// account's (or the token's). A name that is not a host name is refused
// here, with the reason shown, rather than sent for the coordinator to
// refuse.
let site = '';
let siteError = '';
if (params.get('site')) {
  try {
    site = siteName(params.get('site'));
  } catch (e) {
    siteError = e.message;
  }
}

const worker = new NetWorker({
  server: location.origin,
  name, slots, duty, token, site,
  runtime: 'js/browser ' + (navigator.userAgentData?.brands?.map((b) => `${b.brand}/${b.version}`).join(' ') || navigator.userAgent).slice(0, 120),
  newGuest: () => new GuestClient(workerEndpoint(new Worker(new URL('../guest-worker.js', import.meta.url), { type: 'module', name: 'crowdrun guest' })), { stallMs }),
  // Guests can rest between fuel slices only with SharedArrayBuffer, which a
  // cross-origin isolated page has; otherwise slots rest between runs.
  sliceThrottle: globalThis.crossOriginIsolated === true,
  // Checkpoints need SHA-256 (crypto.subtle: a secure context, such as
  // https or localhost) and DEFLATE (CompressionStream).
  checkpoints: !!(globalThis.crypto && crypto.subtle) && typeof CompressionStream === 'function',
  onChange: () => render(),
  log: (level, msg, fields) => { if (level !== 'info') console.warn('crowdrun:', msg, fields || ''); },
});

function render() {
  const s = worker.stats;
  if (s.tasks !== counted.tasks || s.fuel !== counted.fuel) {
    local.tasks += s.tasks - counted.tasks;
    local.fuel = (BigInt(local.fuel) + s.fuel - counted.fuel).toString();
    counted = { tasks: s.tasks, fuel: s.fuel };
    store.set('local', local);
  }
  $('toggle').textContent = worker.enabled ? 'Stop contributing' : 'Start contributing';
  $('toggle').setAttribute('aria-pressed', String(worker.enabled));
  $('state').textContent = worker.state === 'working' ? `working (${runningCount()} running)` : worker.state;
  $('pause-reason').textContent = worker.pauses.size ? 'paused: ' + [...worker.pauses].join(', ') : (worker.state === 'backoff' ? 'reconnecting…' : '');
  $('tasks').textContent = String(local.tasks);
  $('fuel').textContent = BigInt(local.fuel).toLocaleString('en');
  leasesChanged();
}

function runningCount() { return worker.sess ? worker.sess.running.size : 0; }

$('worker-name').textContent = name;
if (site) {
  $('site-name').textContent = site;
  $('site-line').hidden = false;
}
if (siteError) {
  // The embedding site's mistake: nothing can start until it is fixed.
  $('toggle').disabled = true;
  $('site-line').hidden = false;
  $('site-line').classList.remove('full'); // shown in the widget too
  $('site-line').textContent = 'This widget names a site that is not a host name (' + siteError + '): contributing is disabled.';
}
$('slots').value = String(slots);
$('slots').max = String(maxSlots);
$('duty').value = String(duty);
$('duty-out').textContent = String(duty);

$('toggle').addEventListener('click', () => {
  if (worker.enabled) worker.stop();
  else worker.start();
  render();
});
$('slots').addEventListener('change', () => {
  slots = Math.min(maxSlots, clampInt($('slots').value, 1, 256, slots));
  $('slots').value = String(slots);
  store.set('slots', slots);
  worker.setSlots(slots);
});
$('duty').addEventListener('input', () => {
  duty = clampInt($('duty').value, 10, 100, duty);
  $('duty-out').textContent = String(duty);
  store.set('duty', duty);
  worker.setDuty(duty);
});

// Pause while hidden.
const onVisibility = () => (document.visibilityState === 'hidden' ? worker.pause('tab hidden') : worker.resume('tab hidden'));
document.addEventListener('visibilitychange', onVisibility);
onVisibility();

// Pause on battery, where the browser says (navigator.getBattery).
if (typeof navigator.getBattery === 'function') {
  navigator.getBattery().then((b) => {
    const f = () => (b.charging ? worker.resume('on battery') : worker.pause('on battery'));
    f();
    b.addEventListener('chargingchange', f);
  }).catch(() => { /* not allowed here (a frame without the battery permission) */ });
}

// Leaving the page: give the leases back at once rather than let them lapse.
addEventListener('pagehide', () => { if (worker.enabled) worker.stop(); worker.dispose(); });

async function getJSON(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

async function refreshSummary() {
  try {
    const s = await getJSON('/v1/contribute/summary');
    $('coord-name').textContent = s.coordinator.name;
    $('coord-name-short').textContent = s.coordinator.name;
    $('coord-desc').textContent = s.coordinator.description;
    $('workers-connected').textContent = String(s.workers_connected);
    const body = $('jobs');
    body.replaceChildren();
    if (s.jobs.length === 0) {
      const tr = body.insertRow();
      const td = tr.insertCell();
      td.colSpan = 4;
      td.textContent = 'No work queued right now: contributing would only keep a connection open.';
    }
    for (const g of s.jobs) {
      const tr = body.insertRow();
      tr.insertCell().textContent = g.owner;
      tr.insertCell().textContent = String(g.jobs);
      tr.insertCell().textContent = String(g.tasks_pending);
      const code = document.createElement('code');
      code.textContent = g.module_hash;
      const cell = tr.insertCell();
      cell.append(code);
      // g.verification is the coordinator's words for the jobs' settings:
      // the page adds no claim of its own.
      if (g.verification) {
        const v = document.createElement('div');
        v.className = 'small';
        v.textContent = g.verification;
        cell.append(v);
      }
    }
  } catch (e) {
    console.warn('crowdrun: summary', e);
  }
}

async function refreshCredit() {
  try {
    const c = await getJSON('/v1/contribute/credit?worker=' + encodeURIComponent(name));
    $('credit-tasks').textContent = String(c.tasks);
    $('credit-fuel').textContent = Number(c.fuel).toLocaleString('en');
  } catch (e) {
    console.warn('crowdrun: credit', e);
  }
}

// What the visitor is told, in plain words, from GET /v1/contribute/me:
// the tasks this browser's worker holds (as the coordinator sees them) and
// the credit of the account its work is credited to — anon: and
// this browser's id, or a token's owner (docs/browser.md, "Your credit").

// 3200000000 → "3.2 billion": fuel is counted in instructions, "steps"
// to a visitor.
export function words(n) {
  n = Number(n);
  for (const [d, u] of [[1e15, 'quadrillion'], [1e12, 'trillion'], [1e9, 'billion'], [1e6, 'million'], [1e3, 'thousand']]) {
    if (n >= d) return `${Number((n / d).toPrecision(2))} ${u}`;
  }
  return String(n);
}

function taskWords(r) {
  let s = `part ${r.part} of ${r.parts} of a job of ${r.owner}'s (job ${r.job_id}): ${words(r.fuel)} steps done so far`;
  if (r.resumed) s += ', continuing where another computer left off';
  return s;
}

export function doingText(me, enabled, pauses) {
  if (!enabled) return 'Your browser is not running anything. Press “Start contributing” to lend it to this coordinator while the page is open.';
  if (pauses.length) return `Paused (${pauses.join(', ')}): your browser runs nothing until that changes.`;
  if (!me || !me.connected) return 'Connecting to the coordinator…';
  if (me.running.length === 0) return 'Your browser is connected and waiting for work: nothing is queued for it right now.';
  if (me.running.length === 1) return `Your browser is working on ${taskWords(me.running[0])}.`;
  return `Your browser is working on ${me.running.length} tasks at once: ` + me.running.map(taskWords).join('; ') + '.';
}

export function creditText(me) {
  const c = me && me.credit;
  if (c && c.banned) return 'This account was caught returning a wrong result: all its credit was taken back, and it gets no more work.';
  if (!c || c.credit === 0) return 'None of this work has been credited yet. Credit comes when a result it helped compute is accepted, after the checks its job asks for (see each job above), and is taken back if the work proves false.';
  let s = `So far ${words(c.credit)} steps of this work have been accepted and credited`;
  const n = c.verified_links;
  s += n > 0 ? `; other volunteers or this server re-ran ${n} ${n === 1 ? 'part' : 'parts'} of it and got the same.` : '.';
  if (c.rank_all) s += ` That is #${c.rank_all} of ${c.accounts_ranked} on the leaderboard`;
  if (c.rank_7d) s += `, and ${words(c.last_7_days)} in the last 7 days.`;
  else if (c.rank_all) s += '.';
  return s;
}

function renderMe() {
  $('doing').textContent = doingText(me, worker.enabled, [...worker.pauses]);
  $('credited').textContent = creditText(me);
  const who = $('who');
  who.replaceChildren();
  if (!me) return;
  const anon = me.account === 'anon:' + name;
  who.append(anon
    ? 'Credited to this browser’s own anonymous account, '
    : 'Credited to your account (the token’s owner; every machine of it counts together), ');
  const a = document.createElement('a');
  a.href = '/volunteer/' + encodeURIComponent(me.account);
  a.target = '_blank';
  a.rel = 'noopener';
  a.textContent = me.account;
  who.append(a, anon ? ' — clearing this site’s data in the browser starts a new one.' : '.');
}

// Answers can arrive out of order (a timer's ask and a lease change's):
// only a newer ask's answer replaces the one shown.
let meAsked = 0;
let meShown = 0;
async function refreshMe() {
  const seq = ++meAsked;
  try {
    const m = await getJSON('/v1/contribute/me?worker=' + encodeURIComponent(name));
    if (seq < meShown) return;
    meShown = seq;
    me = m;
  } catch (e) {
    console.warn('crowdrun: me', e);
  }
  renderMe();
}

// Asked again when this browser's leases change (a little later, so the
// coordinator has them), and every 5 s for the progress and the credit.
function leasesChanged() {
  renderMe();
  const n = runningCount();
  if (n === lastRunning) return;
  lastRunning = n;
  clearTimeout(meTimer);
  meTimer = setTimeout(refreshMe, 300);
}

refreshSummary();
refreshCredit();
refreshMe();
setInterval(refreshSummary, 10_000);
setInterval(refreshCredit, 5_000);
setInterval(refreshMe, 5_000);
render();

// For tests and the curious: the worker of this page.
globalThis.crowdrun = { worker, refreshSummary, refreshCredit, refreshMe, me: () => me };
