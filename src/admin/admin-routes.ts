/**
 * The admin API on uWS. Every call is checked in the contract's order — cross-site 403, token 401,
 * then 404 / 413 / 415 / 400 — and every call that changes something, or is refused to a valid
 * token, is audited before it is answered (calls refused before any token was accepted are counted
 * and audited at a bounded rate: refusals.ts). Changes run one at a time (AdminLocking: in this
 * process, or across replicas).
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { CroupierError, isCroupierError } from '../errors.js';
import type { ErrorForm, Exchange } from '../http/exchange.js';
import type { OpenExchange } from '../http/data-plane.js';
import { ADMIN_ROUTES, registerRoutes, type AdminAction, type BoundRoute } from '../http/routes.js';
import { optionalJsonObject } from '../protocol/triton.js';
import type { Logger } from '../log.js';
import type { AdminActions, Outcome, Seal } from './admin-actions.js';
import type { AdminLocking } from '../state/admin-state.js';
import type { AuditResult, AuditTrail } from '../state/audit-chain.js';
import { adminHeaders, AuthRefusal, type AdminAuth, type Role } from './auth.js';
import { nameTooLong, shownName } from './names.js';
import type { RefusalThrottle } from './refusals.js';
import { RELEASE_LIMIT } from './release.js';
import { registerDashboard } from '../ui/dashboard.js';

export const AUDIT_LIMIT_DEFAULT = 1000;
export const AUDIT_LIMIT_MAX = 10_000;
const RELEASE_TYPES = new Set(['application/gzip', 'application/x-gzip', 'application/octet-stream']);

/** croupier_admin_actions_total: every call by a valid token, as its audit entry ends. */
export interface AdminMetrics {
  adminAction(action: string, result: AuditResult): void;
}

/** What the monitoring reads answer from (monitoring/monitor.ts). */
export interface MonitorReads {
  report(): Promise<unknown>;
  series(route: string, window: string): Promise<unknown>;
}

/**
 * The alerting room's side of the admin API (src/monitoring/alerts/): events for the changes, and
 * the daily report on demand. Absent: no events, and POST /admin/report answers 409.
 */
export interface AdminNotices {
  /** After a change is audited and logged: its event (deploy, rollback, route change, …) to the `events` channels. */
  changed(change: {
    action: string;
    actor: string | null;
    target: string | null;
    result: AuditResult;
    before?: unknown;
    after?: unknown;
  }): void;
  /** The daily report, queued now; the channels it goes to (none: no daily report configured). */
  report(): Promise<string[]>;
}

/** What GET /admin/routes/{route}/dataset streams (retrain/dataset-reads.ts). */
export interface DatasetSource {
  /** Checks the route and `since` at once (throws the 404 or 400), then the NDJSON body's pieces. */
  open(route: string, since: string): AsyncIterator<Buffer>;
}

/** What POST /admin/routes/{route}/ope answers from (routing/ope/ope-reads.ts). */
export interface OpeSource {
  /** Throws the 404 (a CroupierError) for an unknown route: checked before the body is read. */
  check(route: string): void;
  /** Throws the 404 or 400 (a CroupierError) before reading the log; then the answer. */
  evaluate(route: string, body: unknown): Promise<unknown>;
}

interface Call {
  readonly ex: Exchange;
  readonly action: string;
  readonly target: string | null;
  actor: string | null;
  role: Role | null;
}

export class AdminRoutes {
  private readonly actions: AdminActions;
  private readonly auth: AdminAuth;
  private readonly audit: AuditTrail;
  private readonly log: Logger;
  private readonly bodyLimit: number;
  private readonly lock: AdminLocking;
  private readonly refusals: RefusalThrottle;
  private readonly metrics: AdminMetrics;
  private readonly monitor: MonitorReads | undefined;

  constructor(
    actions: AdminActions,
    auth: AdminAuth,
    audit: AuditTrail,
    log: Logger,
    bodyLimit: number,
    lock: AdminLocking,
    refusals: RefusalThrottle,
    metrics: AdminMetrics,
    monitor?: MonitorReads,
    private readonly notices?: AdminNotices,
    private readonly dataset?: DatasetSource,
    private readonly ope?: OpeSource,
  ) {
    this.monitor = monitor;
    this.actions = actions;
    this.auth = auth;
    this.audit = audit;
    this.log = log;
    this.bodyLimit = bodyLimit;
    this.lock = lock;
    this.refusals = refusals;
    this.metrics = metrics;
  }

  private record(
    call: Call,
    fields: Omit<Parameters<AuditTrail['append']>[0], 'actor' | 'action' | 'target'>,
  ): Promise<void> {
    return this.audit.append({ actor: call.actor, action: call.action, target: call.target, ...fields }).then(
      () => undefined,
      (e: unknown) => this.log.error({ err: (e as Error).message, action: call.action }, 'audit log write failed'),
    );
  }

  private refuse(call: Call, error: unknown, headers?: Record<string, string>): void {
    const e = isCroupierError(error) ? error : new CroupierError('internal', undefined, { cause: error });
    if (e.status >= 500)
      this.log.error(
        { action: call.action, target: call.target, err: (error as Error).message },
        'admin action failed',
      );
    const result = e.status >= 500 ? 'failed' : 'refused';
    this.metrics.adminAction(call.action, result);
    void this.record(call, {
      result,
      status: e.status,
      error: { code: e.code, message: e.message },
    }).then(() => call.ex.fail(e, false, headers));
  }

  /** A refusal before any token was accepted: counted, and audited at a bounded rate (refusals.ts). */
  private refuseAnonymous(call: Call, e: AuthRefusal, res: HttpResponse): void {
    const source = Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
    const written = this.refusals.refused(source, e.reason, {
      action: call.action,
      target: call.target,
      status: e.status,
      error: { code: e.code, message: e.message },
    });
    if (written) void written.then(() => call.ex.fail(e));
    else call.ex.fail(e);
  }

  /**
   * Cross-site and token checks, then the name in the path (`field`: what it names); answers (and
   * audits) the refusal itself, in `form` (Triton's load and unload live under /v2).
   */
  private open(
    open: OpenExchange,
    res: HttpResponse,
    req: HttpRequest,
    action: string,
    field?: 'model' | 'route',
    form: ErrorForm = 'v1',
    reads?: boolean,
    adminOnly?: boolean,
  ): Call | undefined {
    const ex = open(res, req, form);
    const raw = field === undefined ? null : (req.getParameter(0) ?? '');
    const call: Call = { ex, action, target: raw === null ? null : shownName(raw), actor: null, role: null };
    const headers = adminHeaders(req);
    try {
      this.auth.checkSite(headers);
      const caller = this.auth.caller(headers);
      call.actor = caller.name;
      call.role = caller.role;
      // A viewer reads: anything but GET (and HEAD) or a route declared `reads` is a change, refused
      // (and audited as refused).
      if (caller.role === 'viewer' && !(reads ?? (ex.method === 'GET' || ex.method === 'HEAD')))
        throw new CroupierError('forbidden', "this token is a viewer's: it may read (GET), not change anything");
      if (caller.role === 'viewer' && adminOnly)
        throw new CroupierError(
          'forbidden',
          "this token is a viewer's: training data holds request features (possibly personal data), so only an admin token may read it",
        );
      const tooLong = raw === null ? undefined : nameTooLong(`the ${field} name`, raw);
      if (tooLong) throw tooLong;
    } catch (e) {
      if (e instanceof AuthRefusal) this.refuseAnonymous(call, e, res);
      else this.refuse(call, e);
      return undefined;
    }
    return call;
  }

  /**
   * Runs a change under the lock, audits its outcome, then answers. `work` gets a Seal where the
   * trail can write the entry with the change itself (embedded mode): then the change and its entry
   * are one atomic step, and the entry is not recorded a second time.
   */
  private change(call: Call, work: (seal?: Seal) => Promise<Outcome>): void {
    const trail = this.audit;
    const seal: Seal | undefined = trail.appendWith
      ? (audit, save) =>
          trail.appendWith!({ actor: call.actor, action: call.action, target: call.target, ...audit }, save)
      : undefined;
    this.lock
      .run(() => work(seal))
      .then(
        (outcome) => {
          this.metrics.adminAction(call.action, outcome.audit.result);
          const recorded = outcome.recorded?.then(
            () => undefined,
            (e: unknown) =>
              this.log.error({ err: (e as Error).message, action: call.action }, 'audit log write failed'),
          );
          return (recorded ?? this.record(call, { ...outcome.audit, status: outcome.status })).then(() => {
            this.logDone(call, outcome);
            call.ex.send(outcome.status, JSON.stringify(outcome.body));
          });
        },
        (e: unknown) => this.refuse(call, e),
      );
  }

  /**
   * A change the gateway makes by itself (a guardrail's disable or rollback): under the admin lock
   * like a person's, audited with `actor` (its reason in the entry's `after`), logged. Its event is
   * the caller's to send (it knows the reason); a refused or failed change is audited and rethrown.
   */
  async act(actor: string, action: string, target: string, work: (seal?: Seal) => Promise<Outcome>): Promise<Outcome> {
    const trail = this.audit;
    const seal: Seal | undefined = trail.appendWith
      ? (audit, save) => trail.appendWith!({ actor, action, target, ...audit }, save)
      : undefined;
    const logged = (e: unknown): void => {
      this.log.error({ err: (e as Error).message, action }, 'audit log write failed');
    };
    let outcome: Outcome;
    try {
      outcome = await this.lock.run(() => work(seal));
    } catch (error) {
      const e = isCroupierError(error) ? error : new CroupierError('internal', undefined, { cause: error });
      const result = e.status >= 500 ? 'failed' : 'refused';
      this.metrics.adminAction(action, result);
      await this.audit
        .append({ actor, action, target, result, status: null, error: { code: e.code, message: e.message } })
        .catch(logged);
      throw e;
    }
    this.metrics.adminAction(action, outcome.audit.result);
    if (outcome.recorded) await outcome.recorded.then(() => undefined, logged);
    else await this.audit.append({ actor, action, target, ...outcome.audit, status: null }).catch(logged);
    const { result, before, after } = outcome.audit;
    this.log.warn({ action, actor, target, result, before, after }, `${actor} ${action}`);
    return outcome;
  }

  /** A read (not audited), counted like the changes. */
  private answerRead(call: Call, body: unknown): void {
    this.metrics.adminAction(call.action, 'ok');
    call.ex.send(200, JSON.stringify(body));
  }

  /**
   * A change done is logged as well as audited: the log is where an operator looks first. The same
   * fields as its audit entry (actor, target, versions or route spec, sha256), never a token.
   */
  private logDone(call: Call, outcome: Outcome): void {
    const { result, before, after, sha256 } = outcome.audit;
    this.log.info(
      {
        action: call.action,
        actor: call.actor,
        target: call.target,
        result,
        before,
        after,
        sha256,
        requestId: call.ex.requestId,
      },
      `admin ${call.action}`,
    );
    this.notices?.changed({ action: call.action, actor: call.actor, target: call.target, result, before, after });
  }

  /** POST /admin/report: the daily report now, to its channels (202: queued, delivered by timers). */
  private async report(): Promise<Outcome> {
    const channels = (await this.notices?.report()) ?? [];
    if (channels.length === 0)
      throw new CroupierError(
        'conflict',
        'no daily report is configured: add "dailyReport" with its channels to the alerts file (CROUPIER_ALERTS)',
      );
    return { status: 202, body: { queued: channels }, audit: { result: 'ok', after: { channels } } };
  }

  /** Why a JSON body cannot be read (413 too large, 415 not JSON), or undefined. */
  private bodyRefusal(ex: Call['ex']): CroupierError | undefined {
    if (ex.contentLength > this.bodyLimit)
      return new CroupierError('body_too_large', `request body is larger than ${this.bodyLimit} bytes`);
    if (!ex.isJson())
      return new CroupierError(
        'unsupported_media_type',
        `content type must be application/json, got "${ex.contentType || '(none)'}"`,
      );
    return undefined;
  }

  private readJson(call: Call, then: (body: unknown, seal?: Seal) => Promise<Outcome>): void {
    const { ex } = call;
    const refusal = this.bodyRefusal(ex);
    if (refusal) return this.refuse(call, refusal);
    ex.readJson(this.bodyLimit, (body) => this.change(call, (seal) => then(body, seal)));
  }

  /**
   * A body as Triton's clients send it: maybe empty, maybe without a Content-Type (read as JSON);
   * refusals audited like readJson's.
   */
  private readOptionalJson(call: Call, then: (body: unknown, seal?: Seal) => Promise<Outcome>): void {
    const { ex } = call;
    if (ex.contentLength > this.bodyLimit) return this.refuse(call, this.bodyRefusal(ex)!);
    if (ex.contentType !== '' && !ex.isJson())
      return this.refuse(
        call,
        new CroupierError('unsupported_media_type', `content type must be application/json, got "${ex.contentType}"`),
      );
    ex.readBody(this.bodyLimit, (bytes) => {
      let body: unknown;
      try {
        body = optionalJsonObject(bytes);
      } catch (e) {
        return this.refuse(call, e);
      }
      this.change(call, (seal) => then(body, seal));
    });
  }

  /**
   * The admin routes of the route table (http/routes.ts), each checked and audited by `open`, then
   * answered by its action; the 405s, and unknown admin paths, are checked and audited the same way.
   */
  register(app: TemplatedApp, open: OpenExchange): void {
    const a = this.actions;
    const actions: Record<AdminAction, (call: Call, req: HttpRequest) => void> = {
      'models.list': (call) => this.answerRead(call, a.models()),
      deploy: (call) => this.readJson(call, (body, seal) => a.deploy(call.target!, body, seal)),
      // Any body is ignored: rollback takes no arguments.
      rollback: (call) => this.change(call, (seal) => a.rollback(call.target!, seal)),
      push: (call) => this.push(call),
      'release.read': (call, req) => this.readRelease(call, req.getParameter(1) ?? ''),
      'routes.list': (call) => this.answerRead(call, a.routes()),
      'routes.put': (call) => this.readJson(call, (body, seal) => a.putRoute(call.target!, body, seal)),
      'routes.reset': (call) => this.change(call, () => a.resetRoute(call.target!)),
      'arms.enable': (call, req) => {
        const route = call.target!;
        const arm = req.getParameter(1) ?? '';
        const tooLong = nameTooLong('the arm name', arm);
        const named: Call = { ...call, target: `${route}/${shownName(arm)}` };
        if (tooLong) return this.refuse(named, tooLong);
        this.change(named, () => a.enableArm(route, arm, call.actor ?? 'unknown'));
      },
      report: (call) => this.change(call, () => this.report()),
      'audit.read': (call, req) => this.readAudit(call, new URLSearchParams(req.getQuery() ?? '')),
      'repository.load': (call) => this.readOptionalJson(call, (body, seal) => a.load(call.target!, body, seal)),
      'repository.unload': (call) => this.readOptionalJson(call, (body) => a.unload(call.target!, body)),
      whoami: (call) => this.answerRead(call, { name: call.actor, role: call.role }),
      'monitor.read': (call) => this.readMonitor(call, (m) => m.report()),
      'dataset.read': (call, req) => this.readDataset(call, new URLSearchParams(req.getQuery() ?? '')),
      'ope.read': (call) => this.readOpe(call),
      'monitor.series': (call, req) => {
        const q = new URLSearchParams(req.getQuery() ?? '');
        const route = q.get('route');
        const window = q.get('window') ?? '24h';
        if (route === null || route === '')
          return this.refuse(call, new CroupierError('invalid_request', 'name the route: ?route=R&window=1h|24h'));
        this.readMonitor(call, (m) => m.series(route, window));
      },
    };
    const formOf = (path: string): ErrorForm => (path.startsWith('/v2') ? 'v2' : 'v1');
    const routes = ADMIN_ROUTES.map(({ method, path, admin, names, reads, adminOnly }): BoundRoute => {
      const answer = actions[admin];
      const form = formOf(path);
      const readOnly = method === 'GET' || method === 'HEAD' || reads === true;
      return {
        method,
        path,
        handler: (res, req) => {
          const call = this.open(open, res, req, admin, names, form, readOnly, adminOnly);
          if (call) answer(call, req);
        },
      };
    });
    registerRoutes(app, routes, (path, allow) => (res, req) => {
      const call = this.open(open, res, req, 'unknown', undefined, formOf(path));
      if (call) this.refuse(call, new CroupierError('method_not_allowed', `use ${allow} on this path`), { allow });
    });
    // The dashboard's static files (no token: they hold no data; its data calls send one).
    registerDashboard(app, open);
    // Unknown admin paths are checked like the others, so probing them without a token says nothing.
    app.any('/admin/*', (res, req) => {
      const call = this.open(open, res, req, 'unknown');
      if (call)
        this.refuse(
          call,
          new CroupierError('not_found', `no such admin path: ${call.ex.method} ${call.ex.url.slice(0, 200)}`),
        );
    });
  }

  private push(call: Call): void {
    const { ex } = call;
    try {
      this.actions.modelExists(call.target!);
    } catch (e) {
      return this.refuse(call, e);
    }
    if (ex.contentLength > RELEASE_LIMIT)
      return this.refuse(
        call,
        new CroupierError('body_too_large', `a release archive is at most ${RELEASE_LIMIT} bytes`),
      );
    const type = ex.contentType.toLowerCase().split(';')[0]!.trim();
    if (!RELEASE_TYPES.has(type))
      return this.refuse(
        call,
        new CroupierError(
          'unsupported_media_type',
          `a release is sent as application/gzip (or application/octet-stream), got "${ex.contentType || '(none)'}"`,
        ),
      );
    // Unpacked as it arrives (outside the admin lock: it only writes to its own staging folder).
    this.actions.receive(ex.bodyStream(RELEASE_LIMIT)).then(
      (release) => this.change(call, () => this.actions.push(call.target!, release)),
      (e: unknown) => this.refuse(call, e),
    );
  }

  /** A version as a release archive (gzipped tar, as `croupier pack` makes it): a read, not audited. */
  private readRelease(call: Call, version: string): void {
    let archive: Buffer;
    try {
      archive = this.actions.release(call.target!, version);
    } catch (e) {
      return this.refuse(call, e);
    }
    this.metrics.adminAction(call.action, 'ok');
    call.ex.send(200, archive, { 'content-type': 'application/gzip' });
  }

  /** A monitoring read (`/admin/monitor`, `/series`): answered from the monitor's windows. */
  private readMonitor(call: Call, read: (m: MonitorReads) => Promise<unknown>): void {
    const m = this.monitor;
    if (!m) return this.refuse(call, new CroupierError('not_found', 'monitoring is not running on this server'));
    read(m).then(
      (body) => this.answerRead(call, body),
      (e: unknown) => this.refuse(call, e),
    );
  }

  /** GET /admin/routes/{route}/dataset?since=7d: NDJSON, streamed with backpressure (not audited: a read). */
  private readDataset(call: Call, query: URLSearchParams): void {
    const d = this.dataset;
    if (!d) return this.refuse(call, new CroupierError('not_found', 'training data is not kept by this server'));
    let pieces: AsyncIterator<Buffer>;
    try {
      pieces = d.open(call.target!, query.get('since') ?? '30d');
    } catch (e) {
      return this.refuse(call, e);
    }
    this.metrics.adminAction(call.action, 'ok');
    void call.ex.sendStream(pieces, 'application/x-ndjson');
  }

  /** POST /admin/routes/{route}/ope: off-policy estimates from the outcome log (a read: not audited unless refused). */
  private readOpe(call: Call): void {
    const o = this.ope;
    if (!o)
      return this.refuse(call, new CroupierError('not_found', 'off-policy evaluation is not running on this server'));
    const { ex } = call;
    // The contract's order: 404, then 413, 415, 400.
    try {
      o.check(call.target!);
    } catch (e) {
      return this.refuse(call, e);
    }
    const refusal = this.bodyRefusal(ex);
    if (refusal) return this.refuse(call, refusal);
    ex.readJson(this.bodyLimit, (body) =>
      o.evaluate(call.target!, body).then(
        (answer) => this.answerRead(call, answer),
        (e: unknown) => this.refuse(call, e),
      ),
    );
  }

  private readAudit(call: Call, query: URLSearchParams): void {
    const limitRaw = query.get('limit');
    const beforeRaw = query.get('before');
    const limit = limitRaw === null ? AUDIT_LIMIT_DEFAULT : /^\d{1,6}$/.test(limitRaw) ? Number(limitRaw) : NaN;
    const before = beforeRaw === null ? undefined : /^\d{1,15}$/.test(beforeRaw) ? Number(beforeRaw) : NaN;
    if (!(limit >= 1 && limit <= AUDIT_LIMIT_MAX))
      return this.refuse(
        call,
        new CroupierError('invalid_request', `limit must be a whole number from 1 to ${AUDIT_LIMIT_MAX}`),
      );
    if (before !== undefined && !(before >= 1))
      return this.refuse(
        call,
        new CroupierError('invalid_request', 'before must be an entry sequence number (1 or more)'),
      );
    this.audit.read(limit, before).then(
      (entries) => this.answerRead(call, { entries }),
      (e: unknown) => this.refuse(call, e),
    );
  }
}
