// The SDK's reply mapping and helpers, natively under Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CentrifugoError, allow, disconnect, expire, exportHandler, exportInterceptor, exportStream, extend, header,
  json, methodNotFound, permissionDenied, rewrite, toReply,
} from '../src/index.js';
import { composeWorld } from '../src/build.js';
import { connectToken, signHs256, verifyHs256 } from '../src/jwt.js';

const encode = (text) => new TextEncoder().encode(text);

test('allow fills the result record with defaults and converts fields', () => {
  const reply = toReply('connect', allow({ user: '42', expireAt: 60, info: { name: 'Ada' } }));
  assert.equal(reply.tag, 'accept');
  assert.equal(reply.val.user, '42');
  assert.equal(reply.val.expireAt, 60n);
  assert.deepEqual(json(reply.val.info), { name: 'Ada' });
  assert.deepEqual(reply.val.channels, []);
  assert.equal(reply.val.data.length, 0);
  assert.throws(() => toReply('connect', allow({ usr: '42' })), /no field `usr`/);
});

test('errors and disconnects, thrown or returned, become rejections', () => {
  const handler = exportHandler('rpc', () => { throw methodNotFound(); });
  assert.deepEqual(handler.handle({}), { tag: 'reject', val: { code: 104, message: 'method not found', temporary: false } });
  const kicked = exportHandler('subscribe', () => disconnect(4501, 'bye'));
  assert.deepEqual(kicked.handle({}), { tag: 'disconnect', val: { code: 4501, reason: 'bye' } });
  const temporary = toReply('publish', new CentrifugoError(1001, 'later', { temporary: true }));
  assert.equal(temporary.val.temporary, true);
  assert.throws(() => exportHandler('rpc', () => { throw new Error('bug'); }).handle({}), /bug/);
  assert.throws(() => toReply('rpc', undefined), /expected allow/);
});

test('refresh kinds extend or expire, and errors expire', () => {
  assert.deepEqual(toReply('refresh', extend({ expireAt: 5 })), {
    tag: 'extend', val: { expireAt: 5n, info: new Uint8Array(), meta: new Uint8Array(), caps: [] },
  });
  assert.deepEqual(toReply('sub-refresh', expire()), { tag: 'expire' });
  assert.deepEqual(toReply('sub-refresh', permissionDenied()), { tag: 'expire' });
});

test('map, shared poll and notice kinds build their replies', () => {
  const published = toReply('map-publish', allow({ key: 'k2', data: { x: 1 }, score: 3, keyMode: 'if_new' }));
  assert.equal(published.tag, 'accept');
  assert.equal(published.val.key, 'k2');
  assert.deepEqual(json(published.val.data), { x: 1 });
  assert.equal(published.val.score, 3n);
  assert.equal(published.val.streamData.length, 0);
  assert.equal(toReply('map-publish', allow()).val.data, undefined);
  assert.deepEqual(toReply('map-remove', allow({ key: 'k' })), {
    tag: 'accept', val: { key: 'k', tags: [], idempotencyKey: '' },
  });
  assert.deepEqual(toReply('map-remove', disconnect(4501, 'bye')), { tag: 'disconnect', val: { code: 4501, reason: 'bye' } });

  const refreshed = toReply('shared-poll-refresh', allow({ items: [{ key: 'a', data: { p: 1 }, version: 2 }], epoch: 'e' }));
  assert.equal(refreshed.val.epoch, 'e');
  assert.equal(refreshed.val.items[0].version, 2n);
  assert.deepEqual(json(refreshed.val.items[0].data), { p: 1 });
  assert.equal(refreshed.val.items[0].removed, false);
  assert.equal(refreshed.val.items[0].prevData.length, 0);
  assert.throws(() => toReply('shared-poll-refresh', allow({ items: [{ kee: 'a' }] })), /no field `kee`/);
  // No client is on these calls: a disconnect is an error 100.
  assert.deepEqual(toReply('shared-poll-refresh', disconnect(4501, 'bye')), {
    tag: 'reject', val: { code: 100, message: 'bye', temporary: true },
  });

  assert.deepEqual(exportHandler('notify-cache-empty', () => true).handle({}), { populated: true });
  assert.deepEqual(exportHandler('notify-cache-empty', () => { throw permissionDenied(); }).handle({}), { populated: false });
  assert.throws(() => toReply('notify-cache-empty', 'yes'), /expected true or false/);

  assert.deepEqual(exportHandler('notify-channel-state', () => {}).handle({}), { tag: 'accept' });
  assert.deepEqual(toReply('notify-channel-state', allow()), { tag: 'accept' });
  assert.deepEqual(toReply('notify-channel-state', permissionDenied()), {
    tag: 'reject', val: { code: 103, message: 'permission denied', temporary: false },
  });
  const context = { tenant: 'default', callId: 1n };
  const cacheReply = { tag: 'notify-cache-empty', val: { populated: true } };
  assert.equal(exportInterceptor(undefined, () => cacheReply).after(context, cacheReply), cacheReply);
});

test('interceptors pass, rewrite, answer and reject', () => {
  const request = { tag: 'rpc', val: { method: 'ping', headers: [] } };
  const context = { tenant: 'default', callId: 1n };
  assert.deepEqual(exportInterceptor(() => undefined).before(context, request), { tag: 'pass' });
  const renamed = exportInterceptor(() => rewrite({ ...request.val, method: 'pong' })).before(context, request);
  assert.deepEqual(renamed, { tag: 'rewrite', val: { tag: 'rpc', val: { method: 'pong', headers: [] } } });
  const answered = exportInterceptor(() => allow({ data: 'hi' })).before(context, request);
  assert.equal(answered.tag, 'answer');
  assert.equal(answered.val.tag, 'rpc');
  assert.equal(answered.val.val.tag, 'accept');
  const refused = exportInterceptor(() => { throw permissionDenied(); }).before(context, request);
  assert.deepEqual(refused, { tag: 'reject', val: { code: 103, message: 'permission denied', temporary: false } });
  const reply = { tag: 'rpc', val: { tag: 'accept', val: { data: new Uint8Array() } } };
  assert.equal(exportInterceptor(undefined, () => undefined).after(context, reply), undefined);
  const replaced = exportInterceptor(undefined, () => methodNotFound()).after(context, reply);
  assert.deepEqual(replaced, { tag: 'rpc', val: { tag: 'reject', val: { code: 104, message: 'method not found', temporary: false } } });
});

test('headers are found in any case', () => {
  assert.equal(header([['Authorization', 'x'], ['authorization', 'y']], 'AUTHORIZATION'), 'x');
  assert.equal(header([], 'a'), undefined);
});

test('HS256 tokens round-trip and come from data or a bearer header', () => {
  const token = signHs256({ sub: '42', exp: 2000 }, 'secret');
  assert.deepEqual(verifyHs256(token, 'secret', 1000), { sub: '42', exp: 2000 });
  assert.throws(() => verifyHs256(token, 'other', 1000), { kind: 'signature' });
  assert.throws(() => verifyHs256(token, 'secret', 2000), { kind: 'expired' });
  assert.throws(() => verifyHs256('a.b', 'secret', 0), { kind: 'malformed' });
  const none = `${token.split('.')[0].replace(/./g, 'A')}.${token.split('.')[1]}.`;
  assert.throws(() => verifyHs256(none, 'secret', 0));
  assert.equal(connectToken({ data: encode(JSON.stringify({ token: 't1' })), headers: [] }), 't1');
  assert.equal(connectToken({ data: new Uint8Array(), headers: [['authorization', 'bearer t2']] }), 't2');
  assert.equal(connectToken({ data: new Uint8Array(), headers: [['authorization', 'Basic abc']] }), undefined);
});

test('the composed world exports the handlers and imports what is used', () => {
  const world = composeWorld('w', ['connect', 'subRefresh', 'before'], ['config']);
  assert.match(world, /import config;/);
  assert.match(world, /export connect-handler;/);
  assert.match(world, /export sub-refresh-handler;/);
  assert.match(world, /export interceptor;/);
  assert.doesNotMatch(world, /import log;/);
});

test('a stream handler opens as a subscribe handler and gets its callbacks', () => {
  const seen = [];
  const handler = exportStream({
    open(request) {
      if (request.user === '') throw permissionDenied();
      seen.push(['open', request.channel]);
      return allow({ data: 'hi' });
    },
    onClientData(data) { seen.push(['data', data]); },
  });
  assert.deepEqual(handler.open({ user: '', channel: 'c' }), {
    tag: 'reject', val: { code: 103, message: 'permission denied', temporary: false },
  });
  const opened = handler.open({ user: '42', channel: 'ticks:a' });
  assert.equal(opened.tag, 'accept');
  assert.deepEqual([...opened.val.data], [...encode('hi')]);
  handler.onClientData(encode('x'));
  handler.onWake(); // left out: nothing happens
  assert.deepEqual(seen, [['open', 'ticks:a'], ['data', encode('x')]]);
  assert.throws(() => exportStream((request) => allow()), /subscribeStream/);
  assert.throws(() => exportStream({ open() {}, onWake: 1 }), /onWake/);
});

test('the composed world of a stream handler imports %stream', () => {
  const world = composeWorld('w', ['subscribeStream'], ['config', 'stream']);
  assert.match(world, /import %stream;/);
  assert.match(world, /export stream-handler;/);
});
