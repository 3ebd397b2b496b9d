declare module 'rotor:centrifugo/log@0.1.0' {
  /**
   * Writes one line. The host may cut long lines and drop lines past a
   * per-call budget.
   */
  export function write(level: Level, message: string): void;
  /**
   * Severity of a log line.
   * # Variants
   * 
   * ## `"trace"`
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
}
