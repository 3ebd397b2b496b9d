// Answers Centrifugo's connect calls: accepts the user that the gateway in
// front of Centrifugo names in the `x-user-id` header, and refuses a client
// without one with `101 unauthorized`.
import { allow, header, unauthorized, type ConnectHandler } from '@rotor/sdk';

export const connect: ConnectHandler = (request) => {
  const user = header(request.headers, 'x-user-id');
  if (!user) throw unauthorized();
  return allow({ user });
};
