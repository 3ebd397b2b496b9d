declare module 'rotor:centrifugo/config@0.1.0' {
  /**
   * The value of `key`, if it is set.
   */
  export function get(key: string): string | undefined;
}
