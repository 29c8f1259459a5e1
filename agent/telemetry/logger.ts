import { createRequire } from 'node:module';
import type winston from 'winston';

/** The agent's logger: JSON lines, static messages, details in metadata, never file contents. */
export type Logger = Pick<winston.Logger, 'error' | 'warn' | 'info' | 'debug'>;

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const require = createRequire(import.meta.url);

/**
 * A winston JSON logger on stderr (stdout carries command output such as the audit JSON). winston is
 * loaded on the first log call: most CLI runs never log, and it costs ~60 ms to load.
 */
export function createLogger(level: LogLevel): Logger {
  let logger: winston.Logger | null = null;
  const get = (): winston.Logger => {
    if (!logger) {
      const w = require('winston') as typeof winston;
      logger = w.createLogger({
        level,
        format: w.format.combine(w.format.timestamp(), w.format.json()),
        transports: [new w.transports.Stream({ stream: process.stderr })],
      });
    }
    return logger;
  };
  return {
    error: (...args: Parameters<winston.Logger['error']>) => get().error(...args),
    warn: (...args: Parameters<winston.Logger['warn']>) => get().warn(...args),
    info: (...args: Parameters<winston.Logger['info']>) => get().info(...args),
    debug: (...args: Parameters<winston.Logger['debug']>) => get().debug(...args),
  } as Logger;
}

/** A logger that drops everything (tests, and commands whose output must stay clean). */
export function silentLogger(): Logger {
  const drop = (() => undefined) as unknown as winston.LeveledLogMethod;
  return { error: drop, warn: drop, info: drop, debug: drop } as unknown as Logger;
}
