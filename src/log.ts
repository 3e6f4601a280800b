/**
 * JSON-lines logs (pino). Secrets and feature values are redacted wherever they appear. Times are
 * ISO-8601 (UTC) and levels are names (`"level":"info"`), so a person or a log pipeline reads them
 * without knowing pino's numbers.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'croupier' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          'authorization',
          'token',
          'tokens',
          '*.authorization',
          '*.token',
          'features',
          '*.features',
          'body',
          '*.body',
          'secret',
          '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ sync: false }),
  );
}
