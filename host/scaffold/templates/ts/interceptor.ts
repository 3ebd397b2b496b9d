// An interceptor: refuses publish and RPC calls of anonymous users (an empty
// user id) with `103 permission denied`, and passes every other call on to
// the next step.
import { pass, permissionDenied, type BeforeHook } from '@rotor/sdk';

export const before: BeforeHook = (_context, request) => {
  if ((request.tag === 'publish' || request.tag === 'rpc') && request.val.user === '') {
    throw permissionDenied();
  }
  return pass();
};
