import type { BytesLike } from './index.js';
/** A failed store operation. */
export class KvError extends Error {
  constructor(kind: KvError['kind'], message: string);
  readonly kind: 'unavailable' | 'invalid';
}
export function get(key: string): Uint8Array | undefined;
export function getText(key: string): string | undefined;
export function set(key: string, value: BytesLike, ttlMs?: number): void;
export function remove(key: string): boolean;
export function increment(key: string, delta?: number, ttlMs?: number): number;
export function compareAndSet(key: string, expected: BytesLike | undefined, value: BytesLike, ttlMs?: number): boolean;
