// An interceptor: refuses publish and RPC calls of anonymous users (an empty
// user id) with `103 permission denied`, and passes every other call on to
// the next step.
import { pass, permissionDenied } from '@rotor/sdk';

/** @type {import('@rotor/sdk').BeforeHook} */
export function before(_context, request) {
  if ((request.tag === 'publish' || request.tag === 'rpc') && request.val.user === '') {
    throw permissionDenied();
  }
  return pass();
}
