/** The value of `key`, or `undefined` if it is not set. */
export function get(key: string): string | undefined;
/** The value of `key`, or `fallback` if it is not set. */
export function getOr(key: string, fallback: string): string;
/** The comma-separated list at `key`, trimmed, empty items dropped. */
export function list(key: string, fallback?: string): string[];
