/** JSON-lines logs (pino). Secrets and feature values are redacted wherever they appear. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'croupier' },
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
