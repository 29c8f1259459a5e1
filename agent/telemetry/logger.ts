import type winston from 'winston';

/** The agent's logger: JSON lines, static messages, details in metadata, never file contents. */
export type Logger = Pick<winston.Logger, 'error' | 'warn' | 'info' | 'debug'>;

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

type Method = (typeof LOG_LEVELS)[number];
type Entry = { readonly method: Method; readonly args: Parameters<winston.Logger['error']> };

function winstonLogger(w: typeof winston, level: LogLevel): winston.Logger {
  return w.createLogger({
    level,
    format: w.format.combine(w.format.timestamp(), w.format.json()),
    transports: [new w.transports.Stream({ stream: process.stderr })],
  });
}

/**
 * A winston JSON logger on stderr (stdout carries command output such as the audit JSON). winston is
 * imported on the first log call (most CLI runs never log, and it costs tens of milliseconds to load);
 * calls made while it loads are kept in order and written once it is there, before the process exits
 * (the event loop waits for the import).
 */
export function createLogger(level: LogLevel): Logger {
  let logger: winston.Logger | null = null;
  let loading: Promise<void> | null = null;
  const pending: Entry[] = [];
  const log =
    (method: Method) =>
    (...args: Parameters<winston.Logger['error']>) => {
      if (logger) return logger[method](...args);
      pending.push({ method, args });
      loading ??= import('winston').then(
        (w) => {
          logger = winstonLogger(w.default, level);
          for (const entry of pending.splice(0)) logger[entry.method](...entry.args);
        },
        (error: unknown) => {
          process.stderr.write(`kube-harden: cannot load the logger: ${String(error)}\n`);
        },
      );
      return undefined;
    };
  return { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug') } as Logger;
}

/** The daemon's logger: winston loaded before the first line, so every call writes at once. */
export async function loadLogger(level: LogLevel): Promise<Logger> {
  const w = await import('winston');
  return winstonLogger(w.default, level);
}

/** A logger that drops everything (tests, and commands whose output must stay clean). */
export function silentLogger(): Logger {
  const drop = (() => undefined) as unknown as winston.LeveledLogMethod;
  return { error: drop, warn: drop, info: drop, debug: drop } as unknown as Logger;
}
