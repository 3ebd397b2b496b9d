// HS256 JSON Web Tokens: verify the tokens clients connect with.
//
// Only HS256 is accepted: a plugin holds one shared secret, so any other
// `alg` (`none` above all) is an attack or a mistake. The signature is
// compared in constant time and `exp` is checked before claims are handed
// out. SHA-256 is computed here in plain JavaScript: the engine's WebCrypto
// is asynchronous, and handlers answer synchronously.
import { header, json, unauthorized, tokenExpired } from './index.js';

const encoder = new TextEncoder();

/** Why a token was refused: `kind` is `missing`, `malformed`, `algorithm`, `signature`, `claim` or `expired`. */
export class JwtError extends Error {
  constructor(kind, detail = '') {
    super(detail ? `${kind}: ${detail}` : kind);
    this.name = 'JwtError';
    this.kind = kind;
  }

  /** What the client is told: `109 token expired` for an expired token, else `101 unauthorized`. */
  denial() {
    return this.kind === 'expired' ? tokenExpired() : unauthorized();
  }
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 of `message` (a `Uint8Array`). */
export function sha256(message) {
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  // Pad: a 1 bit, zeros, then the length in bits as a 64-bit big-endian number.
  const blocks = Math.ceil((message.length + 9) / 64);
  const padded = new Uint8Array(blocks * 64);
  padded.set(message);
  padded[message.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = message.length * 8;
  view.setUint32(padded.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(padded.length - 4, bits >>> 0);

  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let block = 0; block < blocks; block += 1) {
    for (let i = 0; i < 16; i += 1) w[i] = view.getUint32(block * 64 + i * 4);
    for (let i = 16; i < 64; i += 1) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, k] = h;
    for (let i = 0; i < 64; i += 1) {
      const t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      k = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  h.forEach((word, i) => outView.setUint32(i * 4, word));
  return out;
}

/** HMAC-SHA256 of `message` under `key` (both `Uint8Array`). */
export function hmacSha256(key, message) {
  const block = new Uint8Array(64);
  block.set(key.length > 64 ? sha256(key) : key);
  const inner = new Uint8Array(64 + message.length);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i += 1) {
    inner[i] = block[i] ^ 0x36;
    outer[i] = block[i] ^ 0x5c;
  }
  inner.set(message, 64);
  outer.set(sha256(inner), 64);
  return sha256(outer);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LOOKUP = new Map([...ALPHABET].map((char, i) => [char, i]));

/** Decodes unpadded base64url, or `undefined` if `input` is not that. */
export function base64UrlDecode(input) {
  if (input.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((input.length * 3) / 4));
  let buffer = 0;
  let held = 0;
  let at = 0;
  for (const char of input) {
    const value = LOOKUP.get(char);
    if (value === undefined) return undefined;
    buffer = (buffer << 6) | value;
    held += 6;
    if (held >= 8) {
      held -= 8;
      out[at] = (buffer >> held) & 0xff;
      at += 1;
    }
  }
  return out.subarray(0, at);
}

/** Encodes `data` (a `Uint8Array` or a string) as unpadded base64url. */
export function base64UrlEncode(data) {
  const input = typeof data === 'string' ? encoder.encode(data) : data;
  let out = '';
  for (let i = 0; i < input.length; i += 3) {
    const n = (input[i] << 16) | ((input[i + 1] ?? 0) << 8) | (input[i + 2] ?? 0);
    const chars = i + 2 < input.length ? 4 : i + 1 < input.length ? 3 : 2;
    for (let c = 0; c < chars; c += 1) out += ALPHABET[(n >> (18 - 6 * c)) & 63];
  }
  return out;
}

function equalInConstantTime(a, b) {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i += 1) difference |= a[i] ^ b[i];
  return difference === 0;
}

function decodeObject(part) {
  const decoded = base64UrlDecode(part);
  const value = decoded === undefined ? undefined : json(decoded);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new JwtError('malformed');
  }
  return value;
}

const secretBytes = (secret) => (typeof secret === 'string' ? encoder.encode(secret) : secret);

/**
 * Verifies `token` against `secret` (text or bytes) at `now` (Unix seconds)
 * and returns its claims. Checks, in order: three parts, `alg` = HS256, the
 * signature, that the claims are an object, and `exp` (if any) after `now`.
 * Throws a `JwtError`.
 */
export function verifyHs256(token, secret, now) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('malformed');
  const [head, payload, signature] = parts;
  const alg = decodeObject(head).alg;
  if (alg !== 'HS256') throw new JwtError('algorithm', String(alg ?? ''));
  const given = base64UrlDecode(signature);
  if (given === undefined) throw new JwtError('malformed');
  const expected = hmacSha256(secretBytes(secret), encoder.encode(`${head}.${payload}`));
  if (!equalInConstantTime(given, expected)) throw new JwtError('signature');
  const claims = decodeObject(payload);
  if (claims.exp !== undefined) {
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) throw new JwtError('claim', 'exp');
    if (Math.floor(claims.exp) <= now) throw new JwtError('expired');
  }
  return claims;
}

/** Signs `claims` with HS256 under `secret` (for tests and subscription tokens). */
export function signHs256(claims, secret) {
  const signed = `${base64UrlEncode('{"alg":"HS256","typ":"JWT"}')}.${base64UrlEncode(JSON.stringify(claims))}`;
  return `${signed}.${base64UrlEncode(hmacSha256(secretBytes(secret), encoder.encode(signed)))}`;
}

/**
 * The token a client connects with: `{"token": "<jwt>"}` in the connect
 * command's data, or else an `authorization: Bearer <jwt>` header.
 */
export function connectToken(request) {
  const data = json(request.data);
  if (data !== null && typeof data === 'object' && typeof data.token === 'string') return data.token;
  const value = header(request.headers, 'authorization');
  if (value === undefined) return undefined;
  const [scheme, token, ...rest] = value.trim().split(/\s+/);
  return scheme.toLowerCase() === 'bearer' && token && rest.length === 0 ? token : undefined;
}
