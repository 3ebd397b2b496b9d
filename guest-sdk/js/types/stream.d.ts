/// <reference path="./wit/host.d.ts" />
import type { BytesLike } from './index.js';
/** A publication the host refused: the stream is closing, or it is over a limit. */
export class StreamError extends Error {
  constructor(message: string);
}
/** Tags: an object or `Map` of strings, or `[key, value]` pairs. */
export type Tags = Record<string, string> | Map<string, string> | Array<[string, string]>;
/** Sends `data` (bytes, text or JSON) to the subscriber once the callback returns; throws a `StreamError` when refused. */
export function publish(data: BytesLike, tags?: Tags): void;
/** Asks for `onWake` after `ms` milliseconds (at least 10), replacing an earlier request. */
export function wakeAfter(ms: number): void;
/** Ends the stream once this callback returns. */
export function close(): void;
/** Tags as the WIT's list of pairs. */
export function tagPairs(tags: Tags | undefined): Array<[string, string]>;
