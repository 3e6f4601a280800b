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
import { modelMetadata } from '../protocol/v2.js';
import { compareVersions } from '../registry/repository.js';
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

  const infer =
    (withVersion: boolean): UwsHandler =>
    (res, req) => {
      const ex = open(res, req, 'v2');
      ex.scoring = true;
      const name = req.getParameter(0) ?? '';
      const versionName = withVersion ? (req.getParameter(1) ?? '') : undefined;
      if (!isId(name) || (versionName !== undefined && !isId(versionName)))
        return ex.fail(new CroupierError('model_not_found', 'no such model or version'));
      const headerLength = req.getHeader('inference-header-content-length');
      const route = versionName === undefined && !gateway.registry.model(name) ? gateway.router.get(name) : undefined;
      if (route) {
        ex.route = route.name;
        const deadline = admit(ex, gateway.routeRefusal(route));
        if (deadline !== undefined)
          ex.readInfer(deps.bodyLimit, headerLength, (body, binary) =>
            gateway.inferRoute(route, body, deadline, ex, binary),
          );
        return;
      }
      let version;
      try {
        version = gateway.version(name, versionName);
      } catch (e) {
        return ex.fail(e);
      }
      ex.route = '';
      const deadline = admit(ex, gateway.engine.refusal(version));
      if (deadline !== undefined)
        ex.readInfer(deps.bodyLimit, headerLength, (body, binary) =>
          gateway.infer(version, body, deadline, ex, binary),
        );
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
        const route = versionName === undefined ? gateway.router.get(name) : undefined;
        if (!route) return ex.fail(new CroupierError('model_not_found', `no model or route named "${name}"`));
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
