// Answers Centrifugo's refresh calls: extends every connection by the
// `extend_seconds` setting (one hour if unset).
import { extend, unixNow, type RefreshHandler } from '@rotor/sdk';
import * as config from '@rotor/sdk/config';

export const refresh: RefreshHandler = () => {
  const seconds = Number.parseInt(config.get('extend_seconds') ?? '', 10) || 3600;
  return extend({ expireAt: unixNow() + seconds });
};
