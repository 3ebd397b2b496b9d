// Answers Centrifugo's refresh calls: extends every connection by the
// `extend_seconds` setting (one hour if unset).
import { extend, unixNow } from '@rotor/sdk';
import * as config from '@rotor/sdk/config';

/** @type {import('@rotor/sdk').RefreshHandler} */
export function refresh() {
  const seconds = Number.parseInt(config.get('extend_seconds') ?? '', 10) || 3600;
  return extend({ expireAt: unixNow() + seconds });
}
