/**
 * The data plane's handlers for the route table (routes.ts): /v1 (predict, feedback), /v2 (Open
 * Inference Protocol), /metrics. Each handler reads the request, checks in the contract's order
 * (404, 413, 415, 400), and hands the body to the gateway; no business logic here.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { CroupierError } from '../errors.js';
import type { Gateway } from '../scoring/gateway.js';
import { isId } from '../registry/manifest.js';
import { BINARY_EXTENSION } from '../protocol/binary-tensors.js';
import { checkInferTarget, modelMetadata, timeoutMicros } from '../protocol/v2.js';
import { compareVersions, type ModelVersion } from '../registry/repository.js';
import type { Route } from '../routing/router.js';
import { Exchange, type ErrorForm, type ExchangeHooks } from './exchange.js';
import { tritonHandlers } from './triton.js';
import { TRITON_EXTENSIONS } from '../protocol/triton.js';
import { DATA_ROUTES, registerRoutes, type BoundRoute, type DataHandlerName, type UwsHandler } from './routes.js';

export interface DataPlaneDeps {
  readonly gateway: Gateway;
  readonly hooks: ExchangeHooks;
  readonly bodyLimit: number;
  readonly version: string;
  /** Whether new work is accepted (false while draining). */
  isAccepting(): boolean;
  isReady(): boolean;
  metricsText(): Promise<{ contentType: string; text: string }>;
  /** POST /v1/feedback's handler, made with this listener's `open` (feedback-endpoint.ts). */
  readonly feedback: ((open: OpenExchange) => UwsHandler) | undefined;
  /** The admin API, when it shares this listener (registered before the catch-all). */
  readonly admin: { register(app: TemplatedApp, open: OpenExchange): void } | undefined;
}

/** An exchange for a request; `method` and `url`, when the route knows them, save asking uWS. */
export type OpenExchange = (
  res: HttpResponse,
  req: HttpRequest,
  form: ErrorForm,
  method?: string,
  url?: string,
) => Exchange;

const V2_EXTENSIONS: string[] = [BINARY_EXTENSION, ...TRITON_EXTENSIONS];
// Header names as bytes: uWS reads a Buffer in place, where a string is converted on every call.
const H_INFERENCE_HEADER_LENGTH = Buffer.from('inference-header-content-length');
const H_CONTENT_ENCODING = Buffer.from('content-encoding');
const formOf = (path: string): ErrorForm => (path.startsWith('/v2') ? 'v2' : 'v1');

export function registerDataPlane(app: TemplatedApp, deps: DataPlaneDeps): void {
  const { gateway, hooks } = deps;
  const open: OpenExchange = (res, req, form, method, url) => new Exchange(res, req, form, hooks, method, url);

  /**
   * Whether new work may start, and its deadline; answers the refusal itself (undefined): while
   * draining, or with `refusal` (the model's queue is saturated: refused before the body is read).
   */
  const admit = (ex: Exchange, refusal: CroupierError | undefined): number | undefined => {
    if (!deps.isAccepting()) return void ex.fail(new CroupierError('draining'));
    if (refusal) return void ex.fail(refusal);
    try {
      return ex.deadline();
    } catch (e) {
      return void ex.fail(e);
    }
  };

  /** A predict body, once read: the route and deadline wait on the exchange (no closure per request). */
  const predictBody = (body: unknown, ex: Exchange): void => {
    if (ex.target) gateway.predict(ex.target, body, ex.deadlineAt, ex);
  };

  const predict: UwsHandler = (res, req) => {
    const name = req.getParameter(0) ?? '';
    const ex = new Exchange(res, req, 'v1', hooks, 'POST', `/v1/predict/${name}`);
    ex.scoring = true;
    const route = gateway.router.get(name);
    if (!route) return ex.fail(new CroupierError('route_not_found', `no route named "${name.slice(0, 64)}"`));
    ex.route = route.name;
    const deadline = admit(ex, gateway.routeRefusal(route));
    if (deadline === undefined) return;
    ex.target = route;
    ex.deadlineAt = deadline;
    ex.readJson(deps.bodyLimit, predictBody);
  };

  /**
   * What an infer body adds to the request before the model sees it: its `model_name` /
   * `model_version` must match the URL, and `parameters.timeout` (microseconds, Triton's unit) is
   * a deadline like x-croupier-timeout-ms, the earlier of the two winning. Undefined when refused.
   */
  const inferDeadline = (
    ex: Exchange,
    body: unknown,
    name: string,
    versionName: string | undefined,
    live: string | undefined,
    deadline: number,
  ): number | undefined => {
    let micros: number;
    try {
      checkInferTarget(body, name, versionName, live);
      micros = timeoutMicros(body);
    } catch (e) {
      return void ex.fail(e);
    }
    if (micros === 0) return deadline;
    const at = ex.started + micros / 1000;
    return deadline === 0 || at < deadline ? at : deadline;
  };

  const infer =
    (withVersion: boolean): UwsHandler =>
    (res, req) => {
      const ex = open(res, req, 'v2');
      ex.scoring = true;
      const name = req.getParameter(0) ?? '';
      const versionName = withVersion ? (req.getParameter(1) ?? '') : undefined;
      if (!isId(name) || (versionName !== undefined && !isId(versionName)))
        return ex.fail(new CroupierError('model_not_found', 'no such model or version'));
      const headerLength = req.getHeader(H_INFERENCE_HEADER_LENGTH);
      const encoding = req.getHeader(H_CONTENT_ENCODING);
      const route = gateway.registry.model(name) ? undefined : gateway.router.get(name);
      if (route && versionName === undefined) {
        ex.route = route.name;
        const deadline = admit(ex, gateway.routeRefusal(route));
        if (deadline !== undefined)
          ex.readInfer(deps.bodyLimit, headerLength, encoding, (body, binary) => {
            const at = inferDeadline(ex, body, name, undefined, undefined, deadline);
            if (at !== undefined) gateway.inferRoute(route, body, at, ex, binary);
          });
        return;
      }
      // A direct call has no route (route=""); its model and version label it, errors included.
      ex.route = '';
      let version;
      try {
        // A route's `versions` are its arms: /versions/{arm} pins one (see armVersion).
        version = route ? armVersion(route, versionName!) : gateway.version(name, versionName);
      } catch (e) {
        if (route) ex.route = route.name;
        else if (gateway.registry.model(name)) ex.model = name;
        else ex.route = 'unknown';
        return ex.fail(e);
      }
      ex.route = route ? route.name : '';
      ex.model = version.model;
      ex.version = version.version;
      const deadline = admit(ex, gateway.engine.refusal(version));
      if (deadline !== undefined)
        ex.readInfer(deps.bodyLimit, headerLength, encoding, (body, binary) => {
          const live = versionName === undefined ? version.version : undefined;
          const at = inferDeadline(ex, body, name, versionName, live, deadline);
          if (at !== undefined) gateway.infer(version, body, at, ex, binary);
        });
    };

  /**
   * The version behind a route's arm, for /v2/models/{route}/versions/{arm}: route metadata lists
   * arm names as `versions`, so a Triton or KServe client that picks one from there can use it.
   * Pinning an arm bypasses the policy: it is served like the model itself, with no decision (a
   * choice the policy did not make would skew what it learns and its propensities).
   */
  const armVersion = (route: Route, armName: string): ModelVersion => {
    const index = route.armIndex(armName);
    if (index < 0)
      throw new CroupierError(
        'version_not_found',
        `route "${route.name}" has no arm "${armName}" (arms: ${route.arms.map((a) => a.name).join(', ')})`,
      );
    const arm = route.arms[index]!;
    const version = gateway.registry.resolve(arm.model, arm.version);
    if (!version)
      throw new CroupierError('not_ready', `arm "${armName}" serves ${arm.model} ${arm.version}, which is not loaded`);
    return version;
  };

  const metadata =
    (withVersion: boolean, readiness: boolean): UwsHandler =>
    (res, req) => {
      const ex = open(res, req, 'v2');
      const name = req.getParameter(0) ?? '';
      const versionName = withVersion ? (req.getParameter(1) ?? '') : undefined;
      if (!isId(name) || (versionName !== undefined && !isId(versionName)))
        return ex.fail(new CroupierError('model_not_found', 'no such model or version'));
      const model = gateway.registry.model(name);
      if (!model) {
        const route = gateway.router.get(name);
        if (!route) return ex.fail(new CroupierError('model_not_found', `no model or route named "${name}"`));
        if (versionName !== undefined) {
          let version;
          try {
            version = armVersion(route, versionName);
          } catch (e) {
            return ex.fail(e);
          }
          if (readiness) {
            const ready = gateway.engine.isLoaded(version.key);
            return ex.send(ready ? 200 : 503, JSON.stringify({ name, version: versionName, ready }));
          }
          return ex.send(200, JSON.stringify(modelMetadata(name, [versionName], version, 'croupier_route')));
        }
        const first = gateway.registry.resolve(route.arms[0]!.model, route.arms[0]!.version)!;
        const ready = route.arms.every((a) => {
          const v = gateway.registry.resolve(a.model, a.version);
          return v !== undefined && gateway.engine.isLoaded(v.key);
        });
        if (readiness) return ex.send(ready ? 200 : 503, JSON.stringify({ name, ready }));
        return ex.send(
          200,
          JSON.stringify(
            modelMetadata(
              name,
              route.arms.map((a) => a.name),
              first,
              'croupier_route',
            ),
          ),
        );
      }
      let version;
      try {
        version = gateway.version(name, versionName);
      } catch (e) {
        return ex.fail(e);
      }
      if (readiness) {
        const ready = gateway.engine.isLoaded(version.key);
        return ex.send(
          ready ? 200 : 503,
          JSON.stringify({ name, ...(versionName ? { version: versionName } : {}), ready }),
        );
      }
      const versions = [...model.versions.keys()].sort(compareVersions);
      ex.send(200, JSON.stringify(modelMetadata(name, versionName ? [versionName] : versions, version)));
    };
  const metrics: UwsHandler = (res, req) => {
    const ex = open(res, req, 'v1');
    deps.metricsText().then(
      ({ contentType, text }) => {
        if (ex.done) return;
        ex.done = true;
        if (ex.aborted) return;
        res.cork(() => {
          res.writeStatus('200 OK');
          res.writeHeader('content-type', contentType);
          res.writeHeader('x-request-id', ex.requestId);
          res.end(text);
        });
        hooks.finished(ex, 200);
      },
      (e: unknown) => ex.fail(e),
    );
  };

  const serverMetadata = JSON.stringify({ name: 'croupier', version: deps.version, extensions: V2_EXTENSIONS });
  const handlers: Record<DataHandlerName, UwsHandler | undefined> = {
    predict,
    feedback: deps.feedback?.(open),
    metrics,
    server: (res, req) => open(res, req, 'v2').send(200, serverMetadata),
    live: (res, req) => open(res, req, 'v2').send(200, '{"live":true}'),
    ready: (res, req) => {
      const ready = deps.isReady();
      open(res, req, 'v2').send(ready ? 200 : 503, `{"ready":${ready}}`);
    },
    modelMetadata: metadata(false, false),
    versionMetadata: metadata(true, false),
    modelReady: metadata(false, true),
    versionReady: metadata(true, true),
    modelInfer: infer(false),
    versionInfer: infer(true),
    ...tritonHandlers(open, deps),
  };
  const routes: BoundRoute[] = [];
  for (const { method, path, data } of DATA_ROUTES) {
    const handler = handlers[data];
    if (handler) routes.push({ method, path, handler });
  }
  // Known paths with the wrong method: 405; anything else: 404, in each family's error form.
  registerRoutes(app, routes, (path, allow) => {
    const form = formOf(path);
    const message = `use ${allow} on this path`;
    return (res, req) => open(res, req, form).fail(new CroupierError('method_not_allowed', message), false, { allow });
  });
  deps.admin?.register(app, open);
  app.any('/*', (res, req) => {
    const ex = open(res, req, formOf(req.getUrl()));
    ex.fail(new CroupierError('not_found', `no such path: ${ex.method} ${ex.url.slice(0, 200)}`));
  });
}
