// crowdrun's embed snippet. A site offers its visitors the same opt-in as
// /contribute with
//
//   <script src="https://COORDINATOR/embed.js" async
//           data-site="example.org" data-slots="2" data-max-slots="4"
//           data-duty="50" data-target="#donate"></script>
//
// It adds a small widget: an iframe of COORDINATOR/contribute?embed=1. The
// widget runs on the coordinator's origin, so the hosting page can neither
// press its button nor read its state: consent is the visitor's alone, off by
// default, and the same rules hold (caps, pause when hidden or on battery).
//   data-site       the site's host name: the verified work of its visitors is
//                   credited to it on /v1/credit and the leaderboard (the
//                   widget's ?site=). Attribution only: anyone may name any
//                   site, so it never vouches for anyone's work
//   data-slots      parallel tasks offered by default (the visitor can change it)
//   data-max-slots  the most the visitor may choose
//   data-duty       default CPU cap, percent (10–100; default 50)
//   data-target     a CSS selector: put the widget there (default: after the script)
(function () {
  'use strict';
  var me = document.currentScript;
  if (!me || !me.src) return;
  var origin = new URL(me.src).origin;
  var q = new URLSearchParams({ embed: '1' });
  var d = me.dataset || {};
  // The widget checks the name (and says so if it is not a host name).
  if (d.site) q.set('site', String(d.site).trim());
  if (/^\d+$/.test(d.slots || '')) q.set('slots', d.slots);
  if (/^\d+$/.test(d.maxSlots || '')) q.set('max_slots', d.maxSlots);
  if (/^\d+$/.test(d.duty || '')) q.set('duty', d.duty);
  var f = document.createElement('iframe');
  f.src = origin + '/contribute?' + q.toString();
  f.title = 'Donate spare CPU (crowdrun)';
  f.className = 'crowdrun-widget';
  f.style.border = '0';
  f.style.width = '100%';
  f.style.maxWidth = '34rem';
  f.style.height = '8.5rem';
  var place = function () {
    var target = d.target ? document.querySelector(d.target) : null;
    if (target) target.appendChild(f);
    else if (me.parentNode) me.parentNode.insertBefore(f, me.nextSibling);
  };
  if (d.target && document.readyState === 'loading') document.addEventListener('DOMContentLoaded', place);
  else place();
})();
