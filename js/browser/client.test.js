import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetWorker } from './client.js';

// A WebSocket that records what the worker sends and closes after hello.
function fakeSocket(sent) {
  return class {
    constructor(url, protocol) {
      this.url = url;
      this.protocol = protocol;
      setTimeout(() => this.onopen && this.onopen({}), 0);
    }
    send(text) {
      sent.push(JSON.parse(text));
      setTimeout(() => this.onclose && this.onclose({ code: 1000, reason: 'test' }), 0);
    }
    close() {}
  };
}

async function firstHello(opts) {
  const sent = [];
  const w = new NetWorker({
    server: 'http://127.0.0.1:1', name: 'n1', newGuest: () => { throw new Error('no guests here'); },
    WebSocket: fakeSocket(sent), fetch: async () => { throw new Error('no fetch'); }, minBackoffMs: 1, maxBackoffMs: 2, ...opts,
  });
  const done = w.start();
  while (sent.length === 0) await new Promise((r) => setTimeout(r, 1));
  await w.stop();
  await done;
  return sent[0];
}

test('hello carries the volunteer token when one is given, and none otherwise', async () => {
  const h = await firstHello({ token: 'crt_volunteer' });
  assert.equal(h.type, 'hello');
  assert.equal(h.worker, 'n1');
  assert.equal(h.token, 'crt_volunteer');
  const anon = await firstHello({});
  assert.equal(anon.type, 'hello');
  assert.equal('token' in anon, false);
});

test('a malformed token is refused at construction', () => {
  for (const bad of [42, 'a b', 'x'.repeat(257)]) {
    assert.throws(() => new NetWorker({ server: 'http://127.0.0.1:1', name: 'n', newGuest: () => null, token: bad }), /token/);
  }
});

test('hello carries the site, lower-cased, when one is given, and none otherwise', async () => {
  const h = await firstHello({ site: 'Example.ORG' });
  assert.equal(h.site, 'example.org');
  const none = await firstHello({});
  assert.equal('site' in none, false);
});

test('a site that is not a host name is refused at construction', () => {
  for (const bad of ['exa mple.org', 'example.org.', 'https://example.org', 'a'.repeat(254), 42]) {
    assert.throws(() => new NetWorker({ server: 'http://127.0.0.1:1', name: 'n', newGuest: () => null, site: bad }), /site/);
  }
});
