// Answers Centrifugo's sub-refresh calls: extends every subscription by the
// `extend_seconds` setting (one hour if unset).
import { extend, unixNow } from '@rotor/sdk';
import * as config from '@rotor/sdk/config';

/** @type {import('@rotor/sdk').SubRefreshHandler} */
export function subRefresh() {
  const seconds = Number.parseInt(config.get('extend_seconds') ?? '', 10) || 3600;
  return extend({ expireAt: unixNow() + seconds });
}
