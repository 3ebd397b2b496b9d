// Answers Centrifugo's subscribe calls: users may subscribe to their own
// channel, `user:<id>`, and to nothing else (`103 permission denied`).
import { allow, permissionDenied, type SubscribeHandler } from '@rotor/sdk';

export const subscribe: SubscribeHandler = (request) => {
  if (request.channel !== `user:${request.user}`) throw permissionDenied();
  return allow();
};
