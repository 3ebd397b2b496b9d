// Errors of the host imports. A host call that fails throws; the thrown
// value carries the WIT error variant in `payload`.

/** The WIT error variant a failed host call threw. */
export function payloadOf(thrown) {
  if (thrown !== null && typeof thrown === 'object') {
    if (thrown.payload !== undefined) return thrown.payload;
    if (typeof thrown.tag === 'string') return thrown;
  }
  return undefined;
}
