// A subscription stream, like the Rust stream-ticker: a tick every
// `interval_ms` milliseconds (setting; default 1000) and, on the
// bidirectional form, an echo of what the client publishes. Anonymous
// clients are refused with `103 permission denied`.
//
// Each tick is `{"tick":N,"channel":"..."}` with N counting from 1; an echo
// is `{"echo":DATA}`, where DATA is the client's JSON publication as sent.
// One instance serves one stream, so the count lives in the module.
import { allow, bytes, permissionDenied } from '@rotor/sdk';
import * as config from '@rotor/sdk/config';
import * as stream from '@rotor/sdk/stream';

const DEFAULT_INTERVAL_MS = 1000;

let channel = '';
let count = 0;

/** The interval from the setting, or the default when it is missing or not a number. */
export function interval(value) {
  return value !== undefined && /^\s*\d+\s*$/.test(value) ? Number(value) : DEFAULT_INTERVAL_MS;
}

/** The echo of the client's publication `data`. */
export function echo(data) {
  const prefix = bytes('{"echo":');
  const out = new Uint8Array(prefix.length + data.length + 1);
  out.set(prefix);
  out.set(data, prefix.length);
  out[out.length - 1] = 0x7d; // }
  return out;
}

/** The stream handler. */
export const subscribeStream = {
  open(request) {
    if (request.user === '') throw permissionDenied();
    channel = request.channel;
    stream.wakeAfter(interval(config.get('interval_ms')));
    return allow();
  },

  onWake() {
    count += 1;
    try {
      stream.publish(JSON.stringify({ tick: count, channel }));
    } catch (error) {
      if (error instanceof stream.StreamError) return; // closing: no more ticks
      throw error;
    }
    stream.wakeAfter(interval(config.get('interval_ms')));
  },

  onClientData(data) {
    try {
      stream.publish(echo(data));
    } catch (error) {
      if (!(error instanceof stream.StreamError)) throw error;
    }
  },
};
