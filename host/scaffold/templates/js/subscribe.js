// Answers Centrifugo's subscribe calls: users may subscribe to their own
// channel, `user:<id>`, and to nothing else (`103 permission denied`).
import { allow, permissionDenied } from '@rotor/sdk';

/** @type {import('@rotor/sdk').SubscribeHandler} */
export function subscribe(request) {
  if (request.channel !== `user:${request.user}`) throw permissionDenied();
  return allow();
}
