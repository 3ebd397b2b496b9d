/// <reference path="./wit/host.d.ts" />
import type { ConnectRequest } from 'rotor:centrifugo/types@0.1.0';
import type { CentrifugoError } from './index.js';
/** Why a token was refused. */
export class JwtError extends Error {
  constructor(kind: JwtError['kind'], detail?: string);
  readonly kind: 'missing' | 'malformed' | 'algorithm' | 'signature' | 'claim' | 'expired';
  /** `109 token expired` for an expired token, else `101 unauthorized`. */
  denial(): CentrifugoError;
}
/** Verified claims. */
export type Claims = Record<string, unknown> & { sub?: unknown; exp?: number };
export function verifyHs256(token: string, secret: string | Uint8Array, now: number): Claims;
export function signHs256(claims: object, secret: string | Uint8Array): string;
export function connectToken(request: ConnectRequest): string | undefined;
export function sha256(message: Uint8Array): Uint8Array;
export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array;
export function base64UrlDecode(input: string): Uint8Array | undefined;
export function base64UrlEncode(data: Uint8Array | string): string;
