/** `POST /v1/feedback`: one event or a batch of at most 10,000, validated before any is judged. */
import { CroupierError, type ErrorCode } from '../errors.js';
import { invalid } from './tensor-values.js';

export const MAX_FEEDBACK_EVENTS = 10_000;
/**
 * The largest reward magnitude taken, on any route. Arm statistics keep sums of rewards and of their
 * squares: one reward of 1e200 made a square of +Inf (saved as null, which broke /metrics after a
 * restart) and silently corrupted the arm selection. With |reward| <= 1e15, far beyond any real
 * reward, the sums stay finite for more outcomes than a route will ever see (2^53 of them: < 1e47).
 * Refused here, before either mode's state is reached.
 */
export const MAX_REWARD = 1e15;

export interface FeedbackEvent {
  readonly decision: string;
  readonly reward: number;
  readonly label: number | string | boolean | undefined;
}

/** An event of a batch that is malformed; the others are still judged. */
export interface MalformedEvent {
  readonly malformed: string;
  /** The error code, when not `invalid_request`. */
  readonly code?: ErrorCode;
}

export interface FeedbackBody {
  readonly batch: boolean;
  readonly events: readonly (FeedbackEvent | MalformedEvent)[];
}

const EVENT_KEYS = new Set(['decision', 'reward', 'label']);

/** The event, or why it is malformed. */
function parseEvent(raw: unknown): FeedbackEvent | MalformedEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { malformed: 'an event must be an object with "decision" and "reward"' };
  const e = raw as Record<string, unknown>;
  for (const key in e)
    if (!EVENT_KEYS.has(key))
      return { malformed: `unknown key "${key.slice(0, 64)}" (expected "decision", "reward" and optionally "label")` };
  if (typeof e.decision !== 'string') return { malformed: '"decision" must be the decision id (a string)' };
  if (typeof e.reward !== 'number' || !Number.isFinite(e.reward))
    return { malformed: '"reward" must be a finite number' };
  if (e.reward > MAX_REWARD || e.reward < -MAX_REWARD)
    return {
      malformed: `reward ${e.reward} is beyond ±1e15, the largest the arm statistics take`,
      code: 'reward_out_of_range',
    };
  const label = e.label;
  if (
    label !== undefined
    && !(typeof label === 'number' && Number.isFinite(label))
    && typeof label !== 'boolean'
    && !(typeof label === 'string' && label.length <= 256)
  ) {
    return { malformed: '"label" must be a finite number, a boolean or a string of at most 256 characters' };
  }
  return { decision: e.decision, reward: e.reward, label: label as FeedbackEvent['label'] };
}

export function isMalformed(e: FeedbackEvent | MalformedEvent): e is MalformedEvent {
  return (e as MalformedEvent).malformed !== undefined;
}

/** Throws a 400 for a body that is neither one event nor `{"events": [...]}`, or a bad single event. */
export function parseFeedbackBody(body: unknown): FeedbackBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('the body must be a JSON object: one event, or {"events": [...]}');
  const b = body as Record<string, unknown>;
  if ('events' in b) {
    if (Object.keys(b).length !== 1) throw invalid('a batch is {"events": [...]} and nothing else');
    if (!Array.isArray(b.events)) throw invalid('"events" must be a list of events');
    if (b.events.length > MAX_FEEDBACK_EVENTS) throw invalid(`at most ${MAX_FEEDBACK_EVENTS} events per batch`);
    return { batch: true, events: b.events.map(parseEvent) };
  }
  const event = parseEvent(b);
  if (isMalformed(event))
    throw event.code === undefined ? invalid(event.malformed) : new CroupierError(event.code, event.malformed);
  return { batch: false, events: [event] };
}
