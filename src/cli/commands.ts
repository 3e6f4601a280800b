/** The commands of `croupier`, each declared once: usage, help, flags, default timeout, what it runs. */
import { audit } from './audit-commands.js';
import { adminFlags, HELP_FLAG, type Command } from './command.js';
import { deploy, rollback, routes, status } from './model-commands.js';
import { pack, push } from './release-commands.js';
import { exportCommand } from './export-command.js';
import { opeCommand } from './ope-command.js';
import { DEFAULT_TRAINER_TIMEOUT_S } from './retrain-options.js';

/** Quick reads; changes that load and warm a version (in every worker, maybe on every replica) get longer. */
const READ_TIMEOUT_S = 30;
const LOAD_TIMEOUT_S = 600;
/** Reading, training, validating and registering: a trainer of one's own may take a while. */
const RETRAIN_TIMEOUT_S = 7200;

export const ADMIN_COMMANDS: readonly Command[] = [
  {
    name: 'status',
    usage: [''],
    summary: 'models, versions, which is live, load state',
    about: 'Lists every model version the gateway has, which one is live, and whether every worker has it loaded.',
    flags: adminFlags(READ_TIMEOUT_S),
    timeoutS: READ_TIMEOUT_S,
    run: status,
  },
  {
    name: 'deploy',
    usage: ['<model> <version> [--watch-minutes M [--watch-checks C,…] [--watch-min-samples N]]'],
    summary: 'load and warm a version in every worker, then put it live',
    about:
      'Loads and warms <version> of <model> in every worker (and on every replica), then puts it live.\n'
      + 'Shows how long it has waited; on a timeout the gateway may still finish (see croupier status).\n'
      + 'With --watch-minutes the gateway watches it and rolls it back by itself if it does worse than the\n'
      + 'version it replaced (docs/monitoring.md, "Guardrails and watched deploys").',
    flags: {
      ...adminFlags(LOAD_TIMEOUT_S),
      'watch-minutes': { type: 'string', value: 'M', help: 'watch the new version for M minutes' },
      'watch-checks': {
        type: 'string',
        value: 'C,…',
        help: 'what the watch compares: error_rate,latency,reward (default all three)',
      },
      'watch-min-samples': {
        type: 'string',
        value: 'N',
        help: 'judge once the new version has N samples (default 500)',
      },
    },
    timeoutS: LOAD_TIMEOUT_S,
    run: deploy,
  },
  {
    name: 'rollback',
    usage: ['<model>'],
    summary: 'back to the version live before',
    about: 'Puts the version that was live before the last deploy of <model> live again (loaded and warmed first).',
    flags: adminFlags(LOAD_TIMEOUT_S),
    timeoutS: LOAD_TIMEOUT_S,
    run: rollback,
  },
  {
    name: 'routes',
    usage: ['', 'set <route> <route.json | ->', 'reset <route>'],
    summary: 'list routes, replace one, or reset its statistics',
    about:
      'Without arguments, lists the routes and their arms. `set` replaces a route with the JSON in a file\n'
      + '(`-`: standard input); `reset` forgets the statistics its policy learned.',
    flags: adminFlags(READ_TIMEOUT_S),
    timeoutS: READ_TIMEOUT_S,
    run: routes,
  },
  {
    name: 'audit',
    usage: ['[--limit N] [--before SEQ]', 'verify [audit.log]'],
    summary: 'read the audit log, or check its hash chain',
    about:
      "Lists the gateway's audit entries, newest last. `verify` checks the hash chain of a file, or of the\n"
      + "gateway's log when no file is given.",
    flags: {
      limit: { type: 'string', value: 'N', help: 'at most N entries (default 1000)' },
      before: { type: 'string', value: 'SEQ', help: 'entries before sequence number SEQ' },
      ...adminFlags(READ_TIMEOUT_S),
    },
    timeoutS: READ_TIMEOUT_S,
    run: audit,
  },
  {
    name: 'pack',
    usage: ['<models/model/version> [-o model-version.tgz]'],
    summary: 'make a release archive of a version folder',
    about:
      'Checks a version folder (manifest, model sha256, plain files only) and packs it with a SHA256SUMS\n'
      + 'into a gzipped tar, showing the bytes compressed as it goes (on stderr).',
    flags: {
      output: {
        type: 'string',
        short: 'o',
        value: 'FILE',
        help: 'the archive to write (default <model>-<version>.tgz)',
      },
      timeout: { type: 'string', value: 'SECONDS', help: `give up after this long (default ${LOAD_TIMEOUT_S})` },
      json: { type: 'boolean', help: 'print what was packed as JSON' },
      ...HELP_FLAG,
    },
    timeoutS: LOAD_TIMEOUT_S,
    run: pack,
  },
  {
    name: 'push',
    usage: ['<model-version.tgz>'],
    summary: 'upload a release; the gateway loads it (not live)',
    about:
      'Checks a release archive, uploads it (bytes sent / total on stderr) and waits while the gateway\n'
      + 'loads and warms it in every worker. The version is not put live: `croupier deploy` does that.',
    flags: adminFlags(LOAD_TIMEOUT_S),
    timeoutS: LOAD_TIMEOUT_S,
    run: push,
  },
  {
    name: 'export',
    usage: ['--route R -o DIR [--since 7d] [--format arrow|csv]'],
    summary: "write a route's training rows as Arrow or CSV files",
    about:
      'Reads the training rows the gateway kept for route R (routes with logFeatures: decisions joined with\n'
      + 'their outcomes) and writes them into DIR as part-00000.arrow (or .csv) files, then dataset.json\n'
      + '(rows, columns, time range, sha256 of each file) last. Rows received and written show on stderr.',
    flags: {
      route: { type: 'string', value: 'R', help: 'the route whose rows to export' },
      output: { type: 'string', short: 'o', value: 'DIR', help: 'the folder to write (made if missing)' },
      since: { type: 'string', value: 'AGE', help: 'decisions made since: 7d, 24h, 30m or an ISO time (default 30d)' },
      format: { type: 'string', value: 'FORMAT', help: 'arrow (Arrow IPC files, the default) or csv' },
      ...adminFlags(LOAD_TIMEOUT_S),
    },
    timeoutS: LOAD_TIMEOUT_S,
    run: exportCommand,
  },
  {
    name: 'ope',
    usage: ['<route> [--since 7d] [--policy uniform|current|arm:NAME|mix:A=0.7,B=0.3]… [--estimator ips|snips|dr]…'],
    summary: 'what other policies would have earned on a route (off-policy evaluation)',
    about:
      "Evaluates fixed policies on the route's logged decisions and outcomes, without serving them: `uniform`,\n"
      + "`arm:NAME` (always that arm), `mix:A=0.7,B=0.3` (those weights) and `current` (the route's policy as it\n"
      + 'stands). Prints, per policy and estimator (IPS, SNIPS, DR), the value, its 95% interval and the\n'
      + 'effective sample size (docs/ope.md says how to read them). A route that never explored (ucb1) is\n'
      + 'reported as not evaluable. --policy and --estimator may be given more than once.',
    flags: {
      since: { type: 'string', value: 'AGE', help: 'decisions made since: 7d (the default), 24h, 30m or an ISO time' },
      policy: {
        type: 'string',
        value: 'POLICY',
        help: 'a policy to evaluate (repeatable; default uniform and current)',
      },
      estimator: { type: 'string', value: 'NAME', help: 'ips, snips or dr (repeatable; default all three)' },
      ...adminFlags(READ_TIMEOUT_S),
    },
    timeoutS: READ_TIMEOUT_S,
    run: opeCommand,
  },
  {
    name: 'retrain',
    usage: [
      '<model> --route R [--since 7d] [--dataset DIR | -o DIR] [--trainer CMD] [--challenger ARM] [--tolerance 0.005] [--force]',
    ],
    summary: 'train, validate and register a candidate version (never live)',
    about:
      'Exports the rows of --route since --since (or reads --dataset DIR, a croupier export folder) and trains\n'
      + "a candidate for <model>: a logistic regression on the live version's features, or --trainer CMD (run with CROUPIER_DATASET and CROUPIER_OUTPUT set;\n"
      + 'it writes model.onnx). Croupier scores the candidate and the live version on the last 20% of the rows\n'
      + "by time and registers the candidate as the next version, not live, unless its AUC is below live's by\n"
      + 'more than --tolerance. Exit codes: 0 registered, 1 the gateway refused, 2 usage or unreachable,\n'
      + '3 dataset unusable, 4 trainer failed or model unusable, 5 worse than live (not registered), 124 timeout.',
    flags: {
      route: { type: 'string', value: 'R', help: 'the route whose rows train the model (required)' },
      since: {
        type: 'string',
        value: 'AGE',
        help: 'train on decisions made since: 7d (the default), 24h or an ISO time',
      },
      dataset: {
        type: 'string',
        value: 'DIR',
        help: 'an export folder with dataset.json (croupier export) instead of exporting the rows first',
      },
      output: {
        type: 'string',
        short: 'o',
        value: 'DIR',
        help: 'keep the export in DIR (default: a temporary folder)',
      },
      trainer: {
        type: 'string',
        value: 'CMD',
        help: 'a program to train instead of the built-in logistic regression (run by the shell)',
      },
      'trainer-timeout': {
        type: 'string',
        value: 'SECONDS',
        help: `stop the trainer after this long (default ${DEFAULT_TRAINER_TIMEOUT_S})`,
      },
      challenger: { type: 'string', value: 'ARM', help: 'put the candidate on the route as this arm' },
      tolerance: {
        type: 'string',
        value: 'AUC',
        help: "how far below live's AUC the candidate may be and still be registered (default 0.005)",
      },
      force: { type: 'boolean', help: 'register the candidate even if it is worse than live' },
      ...adminFlags(RETRAIN_TIMEOUT_S),
    },
    timeoutS: RETRAIN_TIMEOUT_S,
    // Loaded when run: ONNX Runtime and Arrow are not what `croupier status` should wait for.
    run: async (ctx, args) => (await import('./retrain-command.js')).retrain(ctx, args),
  },
];
