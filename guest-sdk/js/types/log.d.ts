/// <reference path="./wit/host.d.ts" />
import type { Level } from 'rotor:centrifugo/log@0.1.0';
export type { Level };
/** Writes `message` at `level`. */
export function write(level: Level, message: unknown): void;
export function trace(message: unknown): void;
export function debug(message: unknown): void;
export function info(message: unknown): void;
export function warn(message: unknown): void;
export function error(message: unknown): void;
