/**
 * `POST /v1/feedback`'s handler, for the data plane's route table. Checks run in the
 * contract's order (413, 415, 400 from the exchange and the protocol; then the state of each
 * decision); no business logic here.
 */
import { CroupierError } from '../errors.js';
import type { OutcomeReceiver, OutcomeReply, Verdict } from '../feedback/feedback.js';
import { parseFeedbackBody, type FeedbackBody } from '../protocol/feedback.js';
import type { OpenExchange } from './data-plane.js';
import type { Exchange } from './exchange.js';
import type { UwsHandler } from './routes.js';

export function feedbackEndpoint(feedback: OutcomeReceiver, bodyLimit: number, isAccepting: () => boolean) {
  /** A body, once read (one function for every request: no closure, no promise per outcome). */
  const onJson = (json: unknown, ex: Exchange): void => {
    let body: FeedbackBody;
    try {
      body = parseFeedbackBody(json);
    } catch (e) {
      return ex.fail(e);
    }
    feedback.receive(body.events, new FeedbackAnswer(ex, body.batch));
  };
  return (open: OpenExchange): UwsHandler =>
    (res, req) => {
      const ex = open(res, req, 'v1', 'POST', '/v1/feedback');
      if (!isAccepting()) return ex.fail(new CroupierError('draining'));
      ex.readJson(bodyLimit, onJson);
    };
}

/** The answer to one feedback request: a single event's, or a batch's per-event results. */
class FeedbackAnswer implements OutcomeReply {
  constructor(
    private readonly ex: Exchange,
    private readonly batch: boolean,
  ) {}

  verdicts(verdicts: Verdict[]): void {
    const { ex } = this;
    if (!this.batch) {
      const v = verdicts[0]!;
      if (v.result === 'accepted') return ex.send(202, '{"accepted":1}');
      if (v.result === 'duplicate')
        return ex.send(200, JSON.stringify({ accepted: 0, result: 'duplicate', message: v.message }));
      return ex.fail(new CroupierError(v.code ?? 'invalid_request', v.message));
    }
    let accepted = 0;
    const results: { index: number; result: string; message: string | undefined }[] = [];
    for (let i = 0; i < verdicts.length; i++) {
      const v = verdicts[i]!;
      if (v.result === 'accepted') accepted++;
      else results.push({ index: i, result: v.result, message: v.message });
    }
    ex.send(accepted > 0 ? 202 : 200, JSON.stringify({ accepted, results }));
  }

  failed(error: unknown): void {
    this.ex.fail(error);
  }
}
