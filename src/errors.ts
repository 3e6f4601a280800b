/**
 * Every error Croupier answers with is a CroupierError: a stable `code` (matched by code, never by
 * instanceof, because errors cross worker threads), an HTTP `status`, and a message for a person.
 * The table below is the single list; docs/errors.md documents each code and a test checks that.
 */
export const ERRORS = {
  not_found: { status: 404, message: 'no such path' },
  route_not_found: { status: 404, message: 'no such route' },
  model_not_found: { status: 404, message: 'no such model' },
  version_not_found: { status: 404, message: 'no such model version' },
  decision_not_found: { status: 404, message: 'no such decision' },
  arm_not_found: { status: 404, message: 'the route has no such arm' },
  method_not_allowed: { status: 405, message: 'method not allowed on this path' },
  decision_expired: { status: 410, message: 'the decision is past its feedback window' },
  body_too_large: { status: 413, message: 'request body too large' },
  release_too_large: { status: 413, message: 'the release archive inflates past its limits' },
  unsupported_media_type: { status: 415, message: 'content type must be application/json' },
  invalid_json: { status: 400, message: 'request body is not valid JSON' },
  invalid_request: { status: 400, message: 'request is invalid' },
  reward_out_of_range: { status: 400, message: 'reward must be within [0, 1] on a Bernoulli route' },
  unauthorized: { status: 401, message: 'missing or wrong admin token' },
  forbidden: { status: 403, message: 'cross-site requests are refused' },
  conflict: { status: 409, message: 'conflicting operation' },
  queue_full: { status: 503, message: 'too much work queued for this model version; retry later' },
  deadline_exceeded: { status: 503, message: 'the request deadline passed before inference started' },
  draining: { status: 503, message: 'the server is shutting down' },
  not_ready: { status: 503, message: 'the model version is not loaded' },
  state_unavailable: { status: 503, message: 'shared state is unavailable; retry later' },
  model_invalid: { status: 422, message: 'the model version was refused' },
  inference_failed: { status: 500, message: 'inference failed' },
  internal: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class CroupierError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds for a Retry-After header (503s). */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message ?? ERRORS[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CroupierError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryAfter = options?.retryAfter ?? (this.status === 503 ? 1 : undefined);
  }

  private v1Body: string | undefined;
  private v2Body: string | undefined;

  /**
   * The JSON body that answers it: `/v2` (Open Inference Protocol) or the rest. Made once per error:
   * a saturated model version answers every refusal with the same one.
   */
  body(form: 'v1' | 'v2'): string {
    return form === 'v2'
      ? (this.v2Body ??= JSON.stringify({ error: this.message }))
      : (this.v1Body ??= JSON.stringify({ error: { code: this.code, message: this.message } }));
  }
}

export function isCroupierError(e: unknown): e is CroupierError {
  return (
    typeof e === 'object'
    && e !== null
    && typeof (e as { code?: unknown }).code === 'string'
    && (e as { code: string }).code in ERRORS
    && typeof (e as { status?: unknown }).status === 'number'
  );
}

/** Startup configuration problems: one clear line, non-zero exit. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
