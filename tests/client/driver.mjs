// Drives Centrifugo's JavaScript client SDK (the `centrifuge` package) for
// Rotor's end-to-end tests, over a real WebSocket.
//
// Usage: node driver.mjs
//
// The test writes one JSON command per line on stdin and reads JSON lines on
// stdout. Every command carries an `id`; its answer is
//   {"id": N, "ok": <result>}   or   {"id": N, "error": {"code", "message", "temporary"}}
// Everything the SDK reports on its own is an event line without an `id`:
//   {"event": "connected" | "disconnected" | "connecting" | "error" |
//             "publication" | "subscribed" | "subscribing" | "unsubscribed",
//    "client": NAME, "channel"?: CHANNEL, ...the SDK's context, whose own
//    `client` (the connection id) is renamed `clientId`}
//
// Payloads: a value `{"b64": "..."}` is sent as those bytes (on the protobuf
// protocol); bytes received are reported the same way. Anything else is sent
// as JSON.
//
// Commands (`client` names one SDK client; several can live in one driver):
//   connect     {client, url, protocol?: "json" | "protobuf", token?, data?, name?}
//               starts connecting; the outcome arrives as events
//   disconnect  {client}
//   subscribe   {client, channel, token?, data?, type?: "stream" | "map" | "shared_poll"}
//               starts subscribing; outcome as events. A map subscription
//               also reports `sync` (its state: `entries`) and `update` (one
//               key: `key`, `data`, `removed`); a shared poll one reports
//               `update` (`key`, `data`, `version`, `removed`)
//   unsubscribe {client, channel}
//   publish     {client, channel, data}            answers when Centrifugo replied
//   mapPublish  {client, channel, key, data}       a key's state into a map channel;
//                                                  answers when Centrifugo replied
//   mapRemove   {client, channel, key}             a key out of a map channel; the same
//   track       {client, channel, items: [{key, version}], signature}
//               tracks keys of a shared poll subscription with the
//               signature Centrifugo checks; failures arrive as `error` events
//   rpc         {client, method, data}             answers the reply's data
//   state       {client}                           the client's state and subscriptions'
//   exit        {}

import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { Centrifuge as JsonCentrifuge } from 'centrifuge';
import { Centrifuge as ProtobufCentrifuge } from 'centrifuge/build/protobuf';

const clients = new Map();

function emit(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

// Bytes travel as {"b64": ...} so a test can check them byte for byte, at
// any depth (a publication's `info` holds bytes on the protobuf protocol).
function encode(value) {
  if (value instanceof Uint8Array) {
    return { b64: Buffer.from(value).toString('base64') };
  }
  if (Array.isArray(value)) {
    return value.map(encode);
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, encode(inner)]));
  }
  return value;
}

function decode(value) {
  if (value && typeof value === 'object' && !Array.isArray(value) &&
      Object.keys(value).length === 1 && typeof value.b64 === 'string') {
    return new Uint8Array(Buffer.from(value.b64, 'base64'));
  }
  return value;
}

// The parts of an SDK context worth reporting, with bytes encoded. The
// SDK's own `client` (the connection id Centrifugo gave) becomes `clientId`,
// since `client` names the driver's client.
function context(ctx) {
  const out = {};
  for (const [key, value] of Object.entries(ctx || {})) {
    if (key === 'client') {
      out.clientId = value;
    } else if (key === 'error' && value) {
      out.error = { code: value.code, message: value.message, temporary: value.temporary || false };
    } else if (typeof value !== 'function') {
      out[key] = encode(value);
    }
  }
  return out;
}

function client(name) {
  const entry = clients.get(name);
  if (!entry) {
    throw { code: 0, message: `no client named ${name}` };
  }
  return entry;
}

const commands = {
  connect({ client: name, url, protocol, token, data, name: clientName }) {
    const Centrifuge = protocol === 'protobuf' ? ProtobufCentrifuge : JsonCentrifuge;
    const options = {
      websocket: WebSocket,
      // Quick retries keep the tests short; the tests bound every wait.
      minReconnectDelay: 100,
      maxReconnectDelay: 500,
      timeout: 5000,
    };
    if (token !== undefined) options.token = token;
    if (data !== undefined) options.data = decode(data);
    if (clientName !== undefined) options.name = clientName;
    const centrifuge = new Centrifuge(url, options);
    for (const event of ['connecting', 'connected', 'disconnected', 'error', 'publication', 'join', 'leave']) {
      centrifuge.on(event, (ctx) => emit({ ...context(ctx), event, client: name }));
    }
    clients.set(name, { centrifuge, subs: new Map() });
    centrifuge.connect();
    return {};
  },

  disconnect({ client: name }) {
    client(name).centrifuge.disconnect();
    clients.delete(name);
    return {};
  },

  subscribe({ client: name, channel, token, data, type }) {
    const entry = client(name);
    const options = {};
    if (token !== undefined) options.token = token;
    if (data !== undefined) options.data = decode(data);
    const centrifuge = entry.centrifuge;
    const kinds = {
      stream: () => centrifuge.newSubscription(channel, options),
      map: () => centrifuge.newMapSubscription(channel, options),
      shared_poll: () => centrifuge.newSharedPollSubscription(channel, options),
    };
    const make = kinds[type ?? 'stream'];
    if (!make) throw { code: 0, message: `unknown subscription type ${type}` };
    const sub = make();
    const events = ['subscribing', 'subscribed', 'unsubscribed', 'error', 'publication', 'sync', 'update'];
    for (const event of events) {
      sub.on(event, (ctx) => emit({ ...context(ctx), event, client: name, channel }));
    }
    entry.subs.set(channel, sub);
    sub.subscribe();
    return {};
  },

  unsubscribe({ client: name, channel }) {
    const entry = client(name);
    const sub = entry.subs.get(channel);
    if (sub) {
      sub.unsubscribe();
      entry.centrifuge.removeSubscription(sub);
      entry.subs.delete(channel);
    }
    return {};
  },

  async publish({ client: name, channel, data }) {
    await client(name).centrifuge.publish(channel, decode(data));
    return {};
  },

  async mapPublish({ client: name, channel, key, data }) {
    await client(name).centrifuge.mapPublish(channel, key, decode(data));
    return {};
  },

  async mapRemove({ client: name, channel, key }) {
    await client(name).centrifuge.mapRemove(channel, key);
    return {};
  },

  track({ client: name, channel, items, signature }) {
    const sub = client(name).subs.get(channel);
    if (!sub || typeof sub.track !== 'function') {
      throw { code: 0, message: `${name} has no shared poll subscription to ${channel}` };
    }
    sub.track(items, signature);
    return {};
  },

  async rpc({ client: name, method, data }) {
    const result = await client(name).centrifuge.rpc(method, decode(data));
    return { data: encode(result.data) };
  },

  state({ client: name }) {
    const entry = client(name);
    const subs = {};
    for (const [channel, sub] of entry.subs) subs[channel] = sub.state;
    return { state: entry.centrifuge.state, subs };
  },

  exit() {
    for (const { centrifuge } of clients.values()) centrifuge.disconnect();
    setImmediate(() => process.exit(0));
    return {};
  },
};

const input = createInterface({ input: process.stdin });
input.on('line', async (line) => {
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    emit({ event: 'driver-error', message: `not JSON: ${line}` });
    return;
  }
  const { id, op } = command;
  try {
    const handler = commands[op];
    if (!handler) throw { code: 0, message: `unknown op ${op}` };
    emit({ id, ok: await handler(command) });
  } catch (error) {
    emit({
      id,
      error: {
        code: error?.code ?? 0,
        message: error?.message ?? String(error),
        temporary: error?.temporary || false,
      },
    });
  }
});
// The test closed stdin (or died): stop.
input.on('close', () => process.exit(0));
