/** Reads the alerts file at start (JSON or YAML); a bad one stops start-up with one line naming the key. */
import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import YAML from 'yaml';
import { alertsFileCandidates, type Config } from '../../config/config.js';
import { ConfigError } from '../../errors.js';
import { AlertsConfigError, parseAlertsDocument, type AlertsConfig, type KnownNames } from './alerts-config.js';

const EMPTY: AlertsConfig = { channels: new Map(), rules: [], events: [], dailyReport: undefined };

/** The alerts of CROUPIER_ALERTS (or `<models>/alerts.json|yaml`); none when there is no file. */
export function readAlertsFile(config: Config, known: KnownNames): { file: string | undefined; alerts: AlertsConfig } {
  const file = alertsFileCandidates(config).find((f) => existsSync(f));
  if (!file) {
    if (config.alertsFile) throw new ConfigError(`CROUPIER_ALERTS: cannot read ${config.alertsFile}`);
    return { file: undefined, alerts: EMPTY };
  }
  let raw: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    raw = extname(file) === '.json' ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new ConfigError(`alerts file ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    return { file, alerts: parseAlertsDocument(raw, known) };
  } catch (e) {
    if (e instanceof AlertsConfigError) throw new ConfigError(`alerts file ${file}: ${e.message}`);
    throw e;
  }
}
