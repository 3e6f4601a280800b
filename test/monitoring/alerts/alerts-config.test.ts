/**
 * The alerts file is validated at start like the routes file: each refusal is one line that names
 * the rule or channel and its field, and a good file (JSON or YAML) reads as the contract's example.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadConfig } from '../../../src/config/config.js';
import { parseAlertsDocument } from '../../../src/monitoring/alerts/alerts-config.js';
import { readAlertsFile } from '../../../src/monitoring/alerts/alerts-file.js';

const known = { hasModel: (m: string) => m === 'fraud', hasRoute: (r: string) => r === 'fraud-scoring' };

/** The contract's example. */
const EXAMPLE = {
  channels: {
    ops: { type: 'webhook', url: 'https://hooks.example/T0', format: 'slack' },
    owners: { type: 'email', smtp: 'smtp://mail:25', from: 'croupier@x', to: ['risk@x'] },
  },
  rules: [
    { name: 'fraud-drift', when: 'drift', model: 'fraud', threshold: 0.2, window: '1h', minRows: 500 },
    { name: 'fraud-reward', when: 'reward_drop', route: 'fraud-scoring', drop: 0.02, window: '24h' },
    {
      name: 'fraud-precision',
      when: 'label_metric',
      route: 'fraud-scoring',
      metric: 'precision',
      below: 0.5,
      window: '24h',
      minLabels: 200,
    },
    { name: 'fraud-srm', when: 'srm', route: 'fraud-scoring', window: '1h' },
    { name: 'errors', when: 'error_rate', route: 'fraud-scoring', above: 0.01, window: '1h' },
  ],
  events: ['ops'],
  dailyReport: { at: '08:00', channels: ['owners', 'ops'] },
  defaultChannels: ['ops'],
};

const withChange = (change: (doc: typeof EXAMPLE & Record<string, unknown>) => void): unknown => {
  const doc = structuredClone(EXAMPLE) as typeof EXAMPLE & Record<string, unknown>;
  change(doc);
  return doc;
};

describe('the alerts file', () => {
  it("reads the contract's example", () => {
    const alerts = parseAlertsDocument(EXAMPLE, known);
    expect([...alerts.channels.keys()]).toEqual(['ops', 'owners']);
    expect(alerts.rules.map((r) => [r.name, r.when, r.window, r.channels])).toEqual([
      ['fraud-drift', 'drift', '1h', ['ops']],
      ['fraud-reward', 'reward_drop', '24h', ['ops']],
      ['fraud-precision', 'label_metric', '24h', ['ops']],
      ['fraud-srm', 'srm', '1h', ['ops']],
      ['errors', 'error_rate', '1h', ['ops']],
    ]);
    expect(alerts.events).toEqual(['ops']);
    expect(alerts.dailyReport).toEqual({ hour: 8, minute: 0, timezone: 'UTC', channels: ['owners', 'ops'] });
  });

  it.each([
    [
      'an unknown rule kind',
      (d) => Object.assign(d.rules[0]!, { when: 'vibes' }),
      'rule "fraud-drift".when: must be one of',
    ],
    [
      'an unknown field',
      (d) => Object.assign(d.rules[1]!, { threshhold: 1 }),
      'rule "fraud-reward": unknown field "threshhold"',
    ],
    [
      'a model that does not exist',
      (d) => Object.assign(d.rules[0]!, { model: 'nope' }),
      'rule "fraud-drift".model: no model named "nope"',
    ],
    [
      'a route that does not exist',
      (d) => Object.assign(d.rules[3]!, { route: '../etc' }),
      'rule "fraud-srm".route: no route named "../etc"',
    ],
    [
      'a NaN-like threshold',
      (d) => Object.assign(d.rules[0]!, { threshold: '0.2' }),
      'rule "fraud-drift".threshold: must be a number',
    ],
    [
      'a negative drop',
      (d) => Object.assign(d.rules[1]!, { drop: -1 }),
      'rule "fraud-reward".drop: must be a number from 0',
    ],
    [
      'an error rate above 1',
      (d) => Object.assign(d.rules[4]!, { above: 2 }),
      'rule "errors".above: must be a number from 0 to 1',
    ],
    [
      'both below and above',
      (d) => Object.assign(d.rules[2]!, { above: 0.9 }),
      'rule "fraud-precision": needs exactly one of "below" and "above"',
    ],
    [
      'an unknown metric',
      (d) => Object.assign(d.rules[2]!, { metric: 'vibes' }),
      'rule "fraud-precision".metric: must be one of',
    ],
    [
      'a window that is not 1h or 24h',
      (d) => Object.assign(d.rules[0]!, { window: '7d' }),
      'rule "fraud-drift".window: must be one of 1h, 24h',
    ],
    ['a duplicate rule name', (d) => d.rules.push({ ...d.rules[0]! }), 'rule "fraud-drift": the name appears twice'],
    [
      'a rule naming an unknown channel',
      (d) => Object.assign(d.rules[0]!, { channels: ['pager'] }),
      'rule "fraud-drift".channels: no channel named "pager"',
    ],
    [
      'a webhook URL that is not http',
      (d) => Object.assign(d.channels.ops, { url: 'file:///etc/passwd' }),
      'channel "ops".url: must be a http or https URL',
    ],
    [
      'a webhook URL that is no URL',
      (d) => Object.assign(d.channels.ops, { url: 'not a url' }),
      'channel "ops".url: is not a URL',
    ],
    [
      'an unknown webhook format',
      (d) => Object.assign(d.channels.ops, { format: 'teams' }),
      'channel "ops".format: must be "json" or "slack"',
    ],
    [
      'an SMTP URL of another scheme',
      (d) => Object.assign(d.channels.owners, { smtp: 'http://mail' }),
      'channel "owners".smtp: must be a smtp or smtps URL',
    ],
    [
      'e-mail without recipients',
      (d) => Object.assign(d.channels.owners, { to: [] }),
      'channel "owners".to: must be a non-empty list',
    ],
    [
      'an unknown channel type',
      (d) => Object.assign(d.channels.ops, { type: 'pigeon' }),
      'channel "ops".type: must be "webhook" or "email"',
    ],
    [
      'events naming an unknown channel',
      (d) => Object.assign(d, { events: ['nope'] }),
      'events: no channel named "nope"',
    ],
    [
      'a report time that is not HH:MM',
      (d) => Object.assign(d.dailyReport, { at: '25:00' }),
      'dailyReport.at: must be a time of day',
    ],
    [
      'an unknown time zone',
      (d) => Object.assign(d.dailyReport, { timezone: 'Mars/Olympus' }),
      'dailyReport.timezone: "Mars/Olympus" is not an IANA time zone',
    ],
    [
      'a rule without any channel',
      (d) => Object.assign(d, { defaultChannels: undefined }),
      'rule "fraud-drift": has no channels',
    ],
    ['an unknown top-level key', (d) => Object.assign(d, { rulez: [] }), 'alerts: unknown field "rulez"'],
  ] as [string, (d: typeof EXAMPLE & Record<string, unknown>) => unknown, string][])(
    'refuses %s, naming the rule or channel and the field',
    (_what, change, message) => {
      expect(() => parseAlertsDocument(withChange(change), known)).toThrow(message);
    },
  );

  it('refuses a document that is not an object', () => {
    for (const bad of [null, [], 'alerts', 42])
      expect(() => parseAlertsDocument(bad, known)).toThrow('alerts: must be an object');
  });

  describe('at start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'croupier-alerts-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads <models>/alerts.yaml when CROUPIER_ALERTS is unset, and none when there is no file', () => {
      const config = loadConfig([], { CROUPIER_MODELS_DIR: dir });
      expect(readAlertsFile(config, known).file).toBeUndefined();
      writeFileSync(join(dir, 'alerts.yaml'), YAML.stringify(EXAMPLE));
      const read = readAlertsFile(config, known);
      expect(read.file).toBe(join(dir, 'alerts.yaml'));
      expect(read.alerts.rules).toHaveLength(5);
    });

    it('stops with one line naming the file and the key', () => {
      const file = join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify(withChange((d) => Object.assign(d.rules[0]!, { minRows: -5 }))));
      const config = loadConfig([], { CROUPIER_MODELS_DIR: dir, CROUPIER_ALERTS: file });
      expect(() => readAlertsFile(config, known)).toThrow(
        `alerts file ${file}: rule "fraud-drift".minRows: must be a number from 0`,
      );
      writeFileSync(file, '{"rules": [');
      expect(() => readAlertsFile(config, known)).toThrow(new RegExp(`^alerts file ${file}: [^\\n]+$`));
      const missing = loadConfig([], { CROUPIER_MODELS_DIR: dir, CROUPIER_ALERTS: join(dir, 'missing.yaml') });
      expect(() => readAlertsFile(missing, known)).toThrow('CROUPIER_ALERTS: cannot read');
    });
  });
});
