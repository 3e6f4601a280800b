/**
 * Wires the rooms together: config -> registry -> workers -> routes -> HTTP. Nothing else does.
 */
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join, extname } from 'node:path';
import { createRequire } from 'node:module';
import YAML from 'yaml';
import type { us_listen_socket } from 'uWebSockets.js';
import { routesFileCandidates, type Config } from './config/config.js';
import { AdminPlane } from './admin/admin-plane.js';
import { ConfigError } from './errors.js';
import { DecisionIds } from './feedback/decision-id.js';
import { EmbeddedDecisionLog } from './state/embedded/embedded-log.js';
import { AuditLog } from './state/embedded/audit-log.js';
import { LiveState } from './state/embedded/live-state.js';
import { RouteStore } from './state/embedded/route-store.js';
import { FeedbackLoop } from './feedback/feedback-loop.js';
import { Gateway } from './scoring/gateway.js';
import { Shadows } from './scoring/shadow.js';
import { ShadowLane } from './inference/shadow-lane.js';
import { registerDataPlane } from './http/data-plane.js';
import { Exchange, type ExchangeHooks } from './http/exchange.js';
import { isNativeUws, listenExclusive, uws } from './http/uws.js';
import { InferenceEngine } from './inference/engine.js';
import { InlineRunner } from './inference/inline.js';
import { InferencePool } from './inference/pool.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics/metrics.js';
import { DriftApplier, DriftCounters } from './monitoring/drift-counters.js';
import { isId } from './registry/manifest.js';
import { Registry } from './registry/registry.js';
import { scanRepository } from './registry/repository.js';
import { sweepStaging } from './registry/version-install.js';
import { parseRoutesDocument, RouteSpecError, type RouteSpec } from './routing/route-spec.js';
import { Router } from './routing/router.js';
import { connectRedis, type RedisLink } from './state/redis/connection.js';
import { RedisControl } from './state/redis/control.js';
import { sharedDecisionIds } from './state/redis/decision-secret.js';
import { RedisDecisionLog } from './state/redis/outcomes.js';
import { AdminLock } from './state/admin-state.js';
import { Monitor } from './monitoring/monitor.js';
import { EmbeddedMonitorCounts } from './state/embedded/monitor-counts.js';
import { RedisMonitorCounts } from './state/redis/monitor-counts.js';
import { StateDirLock } from './state/state-dir-lock.js';
import { hostname } from 'node:os';
import { Alerting } from './monitoring/alerts/alerting.js';
import { announceChange } from './monitoring/alerts/admin-events.js';
import { readAlertsFile } from './monitoring/alerts/alerts-file.js';
import type { MonitorReport } from './monitoring/report.js';
import { SoleLeader } from './state/alert-state.js';
import { FileAlertStates } from './state/embedded/alert-states.js';
import { RedisAlertStates, RedisLeadership } from './state/redis/alert-state.js';
import { DatasetReads } from './retrain/dataset-reads.js';
import { TrainingJoin } from './feedback/training-join.js';
import { EmbeddedTrainingRows } from './state/embedded/training-rows.js';
import { RedisTrainingRows } from './state/redis/training-rows.js';
import { EmbeddedOutcomeLog } from './state/embedded/outcome-log.js';
import { RedisOutcomeLog } from './state/redis/outcome-log.js';
import { OutcomeRecorder } from './feedback/outcome-record.js';
import { OpeReads } from './routing/ope/ope-reads.js';
import { guardrailActions } from './admin/guardrail-actions.js';
import { Health } from './monitoring/guardrails/health.js';
import { Guardrails } from './monitoring/guardrails/guardrails.js';
import { FileGuardState } from './state/embedded/guard-state.js';
import { RedisGuardState } from './state/redis/guard-state.js';
import type { DecisionMonitor } from './scoring/gateway.js';

const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export interface ServerOptions {
  logger?: Logger;
}

function readRoutesFile(
  config: Config,
  registry: Registry,
): { file: string | undefined; specs: Map<string, RouteSpec> } {
  const file = routesFileCandidates(config).find((f) => existsSync(f));
  if (!file) {
    if (config.routesFile) throw new ConfigError(`CROUPIER_ROUTES: cannot read ${config.routesFile}`);
    return { file: undefined, specs: new Map() };
  }
  let raw: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    raw = extname(file) === '.json' ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new ConfigError(`routes file ${file}: ${(e as Error).message}`);
  }
  try {
    const specs = parseRoutesDocument(raw, (model, version) => {
      const m = registry.model(model);
      if (!m) return 'no_model';
      return version === 'live' || m.versions.has(version) ? 'ok' : 'no_version';
    });
    return { file, specs };
  } catch (e) {
    if (e instanceof RouteSpecError) throw new ConfigError(`routes file ${file}: ${e.message}`);
    throw e;
  }
}

export class Server {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly gateway: Gateway;
  port = 0;
  private accepting = true;
  private ready = false;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private listenSockets: us_listen_socket[] = [];
  adminPort = 0;
  private closing: Promise<void> | undefined;

  constructor(
    config: Config,
    log: Logger,
    metrics: Metrics,
    gateway: Gateway,
    /** The admin API: on this listener, or on its own when config.adminPort is set. */
    readonly admin: AdminPlane,
    private readonly stateLock: StateDirLock,
    /** Decisions, outcomes and the feedback endpoint, on the embedded store or on Redis. */
    readonly feedbackLoop: FeedbackLoop,
    /** Redis mode: the one connection both halves share (closed last). */
    private readonly redis: RedisLink | undefined,
    /** The monitoring windows (drift, pulls, rewards, labels): what is left is stored at close. */
    private readonly monitoring?: { close(): Promise<void> },
    /** Alert rules, events and the daily report (CROUPIER_ALERTS); started once listening. */
    readonly alerting?: Alerting,
  ) {
    this.config = config;
    this.log = log;
    this.metrics = metrics;
    this.gateway = gateway;
    metrics.countInFlight(() => this.inFlight);
  }

  isReady(): boolean {
    return this.ready && this.accepting;
  }

  readonly hooks: ExchangeHooks = {
    started: () => {
      this.inFlight++;
    },
    finished: (ex: Exchange, status: number) => {
      this.inFlight--;
      const seconds = (performance.now() - ex.started) / 1000;
      if (ex.scoring) this.metrics.request(ex.route, ex.arm, ex.model, ex.version, status, seconds);
      if (status >= 500 && status !== 503) {
        this.log.warn(
          {
            requestId: ex.requestId,
            traceparent: ex.traceparent || undefined,
            method: ex.method,
            url: ex.url,
            status,
            err: ex.error?.cause ?? ex.error?.message,
          },
          'request failed',
        );
      } else if (this.log.isLevelEnabled('debug')) {
        this.log.debug(
          {
            requestId: ex.requestId,
            traceparent: ex.traceparent || undefined,
            method: ex.method,
            url: ex.url,
            status,
            ms: seconds * 1000,
            error: ex.error?.code,
          },
          'request',
        );
      }
      if (this.inFlight === 0 && this.drained) this.drained();
    },
  };

  async listen(): Promise<void> {
    const app = uws.App();
    const feedback = this.feedbackLoop;
    registerDataPlane(app, {
      gateway: this.gateway,
      hooks: this.hooks,
      bodyLimit: this.config.bodyLimit,
      version: VERSION,
      isAccepting: () => this.accepting,
      isReady: () => this.isReady(),
      metricsText: async () => ({ contentType: this.metrics.contentType, text: await this.metrics.text() }),
      feedback: feedback.endpoint,
      admin: this.config.adminPort === undefined ? this.admin : undefined,
    });
    this.port = await this.bind(app, this.config.port);
    if (this.config.adminPort !== undefined) {
      const adminApp = uws.App();
      this.admin.registerStandalone(adminApp, (res, req, form) => new Exchange(res, req, form, this.hooks));
      this.adminPort = await this.bind(adminApp, this.config.adminPort);
    }
    this.ready = true;
    this.alerting?.start();
    this.log.info(
      {
        host: this.config.host,
        port: this.port,
        workers: this.gateway.engine.workers,
        routes: [...this.gateway.router.routes.keys()],
      },
      'croupier ready',
    );
  }

  private bind(app: ReturnType<typeof uws.App>, port: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      // Exclusive: uWS would otherwise share the port (SO_REUSEPORT) with a second Croupier, and the
      // kernel would split connections between the two.
      listenExclusive(app, this.config.host, port, (socket) => {
        if (!socket)
          return reject(
            new ConfigError(`cannot listen on ${this.config.host}:${port} (in use, or not an address of this machine)`),
          );
        this.listenSockets.push(socket);
        resolve(uws.us_socket_local_port(socket));
      });
    });
  }

  /** Stops taking new work, answers what is in flight, then releases everything. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const deadlineMs = Date.now() + this.config.drainTimeoutMs;
      this.accepting = false;
      for (const socket of this.listenSockets) uws.us_listen_socket_close(socket);
      this.listenSockets = [];
      if (this.inFlight > 0) {
        const drained = new Promise<void>((resolve) => {
          this.drained = resolve;
        });
        const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.config.drainTimeoutMs).unref());
        await Promise.race([drained, timeout]);
      }
      await this.gateway.engine.idle();
      await this.gateway.engine.close();
      await this.gateway.shadows?.close();
      // Redis mode: decisions still held wait for Redis within the drain's time, then are journaled.
      await this.feedbackLoop.close(deadlineMs);
      await this.alerting?.close();
      await this.monitoring?.close().catch((err: unknown) => {
        this.log.error({ err: (err as Error).message }, 'monitoring: counts not stored at shutdown');
      });
      await this.admin.close();
      await this.redis?.close();
      this.stateLock.release();
      this.log.info({ unanswered: this.inFlight }, 'croupier stopped');
      this.log.flush();
    })();
    return this.closing;
  }
}

export async function startServer(config: Config, options: ServerOptions = {}): Promise<Server> {
  const log = options.logger ?? createLogger(config.logLevel);
  if (!isNativeUws() && !config.allowSlowHttp) {
    throw new ConfigError(
      'uWebSockets.js fell back to its slow pure-Node implementation (no native build for this platform/Node); refusing to start. Set CROUPIER_ALLOW_SLOW_HTTP=1 to run anyway.',
    );
  }
  try {
    mkdirSync(config.stateDir, { recursive: true });
  } catch (e) {
    throw new ConfigError(`CROUPIER_STATE_DIR: cannot create ${config.stateDir} (${(e as Error).message})`);
  }
  // Before anything reads or writes the directory.
  const lock = await StateDirLock.acquire(config.stateDir);
  try {
    return await startOwning(config, log, lock);
  } catch (e) {
    lock.release();
    throw e;
  }
}

async function startOwning(config: Config, log: Logger, lock: StateDirLock): Promise<Server> {
  const swept = sweepStaging(config.modelsDir);
  if (swept.length > 0) log.warn({ folders: swept }, 'removed staging folders left by an interrupted upload');
  const scan = scanRepository(config.modelsDir);
  const registry = new Registry(scan);
  const metrics = new Metrics();
  // Redis mode: one connection for both halves. Control half: live versions, history, routes, the
  // admin lock, two-phase deploys and the audit chain are shared by every replica (src/state/redis/control.ts).
  const redis = config.redis ? await connectRedis(config.redis, log, metrics) : undefined;
  const replica = replicaName();
  let admin: AdminPlane;
  try {
    // The admin plane's own state is in the state dir (in Redis mode the seed of an empty shared store).
    const local = {
      lock: new AdminLock(),
      pointers: new LiveState(config.stateDir),
      routes: new RouteStore(config.stateDir),
      audit: new AuditLog(config.stateDir),
    };
    admin = await AdminPlane.open(
      config,
      registry,
      log,
      local,
      redis ? new RedisControl(redis, log, replica) : undefined,
    );
  } catch (e) {
    await redis?.close();
    throw e;
  }
  for (const r of registry.refused) {
    log.error({ model: r.model, version: r.version, reason: r.reason }, 'model version refused');
    // Label values stay bounded: a folder whose name is not an id counts under model="". A LIVE
    // file naming a bad version is no load failure of its own (that version was counted).
    if (!r.reason.startsWith('LIVE names')) metrics.loadFailed(isId(r.model) ? r.model : '', 'invalid');
  }

  const pool = new InferencePool({ workers: config.workers, intraOpThreads: config.intraOpThreads });
  // Versions with baseline histograms count drift per batch (monitoring/drift-counter.ts).
  const drift = new DriftCounters();
  const engine = new InferenceEngine(pool, new InlineRunner(), metrics, config, drift);
  // Every good version is loaded and warmed in every worker before we listen; a version that fails
  // to load is refused and the others serve.
  await Promise.all(
    registry.allVersions().map(async (version) => {
      try {
        await engine.load(version);
        log.info(
          { model: version.model, version: version.version, runs: engine.isInline(version.key) ? 'inline' : 'workers' },
          'model version loaded',
        );
      } catch (e) {
        const reason = `failed to load: ${(e as Error).message}`;
        registry.refuse(version, reason);
        metrics.loadFailed(version.model, 'runtime');
        log.error({ model: version.model, version: version.version, reason }, 'model version refused');
      }
    }),
  );

  let routes;
  try {
    routes = readRoutesFile(config, registry);
  } catch (e) {
    await engine.close();
    await admin.close();
    await redis?.close();
    throw e;
  }
  const router = new Router(registry, await admin.routesAtStart(routes.file, routes.specs));
  // Monitoring windows: in the state dir (embedded), or shared by every replica (Redis mode).
  const monitorCounts = redis ? new RedisMonitorCounts(redis) : EmbeddedMonitorCounts.open(config.stateDir, log);
  const monitor = new Monitor({ store: monitorCounts, router, registry, log, observer: metrics, drift });
  // Training rows of routes with logFeatures: files in the state dir, or one stream per route in Redis.
  const retention = { retentionMs: config.datasetDays * 86_400_000 };
  const trainingRows = redis
    ? new RedisTrainingRows(redis, retention, log)
    : new EmbeddedTrainingRows(config.stateDir, retention, log);
  const dataset = new DatasetReads(
    trainingRows,
    { logsFeatures: (route) => router.get(route)?.spec.logFeatures },
    retention.retentionMs,
  );
  // Every accepted outcome with its propensity (and context), for off-policy evaluation: day files
  // in the state dir, or the outcomes stream the credit script writes in Redis mode.
  const outcomeLog = redis ? new RedisOutcomeLog(redis) : new EmbeddedOutcomeLog(config.stateDir, retention, log);
  // Drift counts go to the same store once a second (the engine's batchers count them).
  const driftApplier = new DriftApplier(drift, monitorCounts, log);
  // Per arm and version: requests, errors, latency, outcomes (guardrails, watches, error_rate rules).
  const health = new Health({ store: monitorCounts, registry, router, log });
  let guardrails: Guardrails | undefined;
  const monitoring = {
    close: async (): Promise<void> => {
      await guardrails?.close();
      await health.close();
      await driftApplier.close();
      await monitor.close();
      await monitorCounts.close();
    },
  };
  let alerting: Alerting;
  // Redis mode: the replica holding the lease sends alerts and acts on guardrails; a lease outlives
  // a missed evaluation or two.
  const leadership = redis
    ? new RedisLeadership(redis.client, replica, Math.max(3 * config.alertIntervalMs, 1000))
    : new SoleLeader();
  try {
    const { alerts } = readAlertsFile(config, {
      hasModel: (m) => registry.model(m) !== undefined,
      hasRoute: (r) => router.routes.has(r),
    });
    alerting = new Alerting({
      config: alerts,
      report: () => monitor.report(),
      rewards: monitor,
      requests: health,
      leadership,
      states: redis ? new RedisAlertStates(redis.client) : new FileAlertStates(config.stateDir),
      metrics,
      log,
      intervalMs: config.alertIntervalMs,
    });
  } catch (e) {
    await monitoring.close().catch(() => undefined);
    await engine.close();
    await admin.close();
    await redis?.close();
    throw e;
  }
  // Guardrails: a worse arm disabled, a worse deploy rolled back — audited as `guardrail`, announced.
  const guards = new Guardrails({
    router,
    registry,
    health,
    state: redis ? new RedisGuardState(redis.client) : new FileGuardState(config.stateDir),
    leadership,
    metrics,
    log,
    intervalMs: config.alertIntervalMs,
    actor: guardrailActions(admin, registry, alerting, log),
  });
  guardrails = guards;
  // What /admin/monitor answers: the monitor's windows, arms disabled, and the alert rules' states.
  const monitorReads = {
    report: async (): Promise<MonitorReport> =>
      guards.decorate({ ...(await monitor.report()), alerts: await alerting.alerts() }),
    series: (route: string, window: string) => monitor.series(route, window),
  };
  try {
    // Redis mode: this replica takes up the shared admin state here, before it listens.
    await admin.attach(
      engine,
      router,
      metrics,
      monitorReads,
      {
        changed: (change) => announceChange(alerting, change),
        report: () => alerting.sendReport(),
      },
      dataset,
      () => guards,
      new OpeReads(outcomeLog, router),
    );
    // Before listening: an arm disabled before a restart gets no traffic from the first request.
    await guards.start();
  } catch (e) {
    await alerting.close();
    await monitoring.close().catch(() => undefined);
    await engine.close();
    await admin.close();
    await redis?.close();
    throw e;
  }
  // Redis mode: every replica signs decision ids with the same secret, kept in Redis.
  const ids = redis
    ? await sharedDecisionIds(redis, log)
    : DecisionIds.fromFile(join(config.stateDir, 'decision-secret'));
  // Redis mode: decisions, statistics and outcomes live in Redis (the state dir holds nothing shared).
  let server: Server | undefined;
  let feedback: FeedbackLoop | undefined;
  let shadows: Shadows | undefined;
  try {
    const features = { maxBytes: config.featuresMax, budgetBytes: config.featuresBudget };
    const storeDeps = { stateDir: config.stateDir, decisionsMax: config.decisionsMax, router, ids, log, features };
    const store = redis
      ? await RedisDecisionLog.open({ ...storeDeps, link: redis, registry })
      : await EmbeddedDecisionLog.open(storeDeps);
    // Shadow copies run in a worker of their own, started with the first shadow arm (inference/shadow-lane.ts).
    const lane = new ShadowLane(() => new InferencePool({ workers: 1, intraOpThreads: config.intraOpThreads }), config);
    shadows = new Shadows(registry, engine, lane, monitor, () => router.routes.values());
    await shadows.prepare();
    const watched: DecisionMonitor = {
      decided(pick, latencyMs) {
        monitor.decided(pick);
        health.served(pick, latencyMs);
      },
      failed(pick, error) {
        health.failed(pick, error);
      },
    };
    const gateway = new Gateway(registry, router, engine, ids, config.maxQueuedRows, store.decisions, watched, shadows);
    metrics.setModels(registry.allVersions().map((v) => ({ version: v, live: registry.model(v.model)!.live === v })));
    const isAccepting = (): boolean => server?.isReady() === true;
    const outcomes = {
      outcome(route: string, arm: string, versionKey: string, reward: number, label: unknown, score: number): void {
        monitor.outcome(route, arm, versionKey, reward, label, score);
        health.outcome(route, arm, versionKey, reward);
      },
    };
    const training = new TrainingJoin(trainingRows, registry);
    // Redis mode: nothing to append (the credit script writes the outcomes stream).
    const logged = redis ? undefined : new OutcomeRecorder(outcomeLog);
    feedback = FeedbackLoop.start(
      { bodyLimit: config.bodyLimit, router, ids, metrics, isAccepting, monitor: outcomes, training, outcomes: logged },
      store,
    );
    metrics.observeLearning(feedback.learning);
    metrics.observeRows({ training: trainingRows, outcomes: outcomeLog });
    metrics.observeMonitor(monitor);
    metrics.observeDrift(monitor);
    server = new Server(config, log, metrics, gateway, admin, lock, feedback, redis, monitoring, alerting);
    await server.listen();
  } catch (e) {
    await alerting.close();
    await engine.close();
    await shadows?.close();
    await feedback?.close();
    await monitoring.close().catch(() => undefined);
    await admin.close();
    await redis?.close();
    throw e;
  }
  return server;
}

/** Servers started in this process so far (tests start several). */
let started = 0;

/**
 * This server's name among the replicas (the leadership lease, the control half's replica set):
 * host and pid, and for a second server in one process its rank, so that two never share a name.
 */
function replicaName(): string {
  started++;
  return started === 1 ? `${hostname()}-${process.pid}` : `${hostname()}-${process.pid}-${started}`;
}
