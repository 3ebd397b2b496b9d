// Rotor's log: lines go to the host's log, tagged with tenant and plugin.
// The host may cut long lines and drop lines past a per-call budget.
import { write as hostWrite } from 'rotor:centrifugo/log@0.1.0';

/** Writes `message` at `level` (`trace`, `debug`, `info`, `warn` or `error`). */
export const write = (level, message) => hostWrite(level, String(message));
/** Writes a trace line. */
export const trace = (message) => write('trace', message);
/** Writes a debug line. */
export const debug = (message) => write('debug', message);
/** Writes an info line. */
export const info = (message) => write('info', message);
/** Writes a warning. */
export const warn = (message) => write('warn', message);
/** Writes an error line. */
export const error = (message) => write('error', message);
