// Answers Centrifugo's publish calls: accepts a JSON object whose `text` is
// a non-empty string of at most 1000 bytes, and refuses anything else with
// `107 bad request`.
import { allow, badRequest, json } from '@rotor/sdk';

/** @type {import('@rotor/sdk').PublishHandler} */
export function publish(request) {
  const text = json(request.data)?.text;
  if (typeof text !== 'string' || text.trim() === '' || new TextEncoder().encode(text).length > 1000) {
    throw badRequest('`text` must be 1 to 1000 bytes');
  }
  return allow();
}
