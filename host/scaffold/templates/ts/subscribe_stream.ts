// A subscription stream: anonymous users are refused (`103 permission
// denied`); others get `{"count":N}` every second, and on the bidirectional
// form their own publications back as `{"echo":DATA}`. One instance serves
// one stream, so the count lives in the module.
import { allow, permissionDenied, text, type SubscribeStreamHandler } from '@rotor/sdk';
import * as stream from '@rotor/sdk/stream';

const EVERY_MS = 1000;
let count = 0;

export const subscribeStream: SubscribeStreamHandler = {
  open(request) {
    if (request.user === '') throw permissionDenied();
    stream.wakeAfter(EVERY_MS);
    return allow();
  },
  onWake() {
    count += 1;
    try {
      stream.publish({ count });
      stream.wakeAfter(EVERY_MS);
    } catch (error) {
      // The stream is closing: ask for no more ticks.
      if (!(error instanceof stream.StreamError)) throw error;
    }
  },
  onClientData(data) {
    try {
      stream.publish(`{"echo":${text(data)}}`);
    } catch (error) {
      if (!(error instanceof stream.StreamError)) throw error;
    }
  },
};
