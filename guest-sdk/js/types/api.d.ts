/// <reference path="./wit/host.d.ts" />
import type * as wit from 'rotor:centrifugo/centrifugo-api@0.1.0';
import type { BytesLike } from './index.js';
/** A failed API call. */
export class ApiError extends Error {
  constructor(kind: ApiError['kind'], message?: string, code?: number);
  readonly kind: 'centrifugo' | 'denied' | 'unavailable' | 'timeout';
  /** Centrifugo's error code, for `centrifugo`. */
  readonly code: number;
}
export interface PublishOptions { skipHistory?: boolean; tags?: Record<string, string>; idempotencyKey?: string; delta?: boolean }
export function publish(channel: string, data: BytesLike, options?: PublishOptions): wit.StreamPosition;
export function broadcast(channels: string[], data: BytesLike, options?: PublishOptions): Array<wit.StreamPosition | ApiError>;
export function subscribe(user: string, channel: string, client?: string): void;
export function unsubscribe(user: string, channel: string, client?: string): void;
export function disconnect(user: string, code: number, reason: string, client?: string): void;
export function refresh(user: string, options?: { expireAt?: number | bigint; expired?: boolean; client?: string }): void;
export function presence(channel: string): wit.ClientInfo[];
export function presenceStats(channel: string): wit.PresenceCounts;
export function history(channel: string, query?: { limit?: number; since?: wit.StreamPosition; reverse?: boolean }): wit.HistoryPage;
export function historyRemove(channel: string): void;
export function channels(pattern?: string): Array<[string, number]>;
export function info(): wit.Node[];
export function batch(commands: wit.Command[], options?: { parallel?: boolean }): Array<undefined | ApiError>;
