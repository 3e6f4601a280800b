/**
 * The decisions waiting for outcomes (embedded mode), bounded by CROUPIER_DECISIONS_MAX so memory
 * stays bounded however little feedback comes back. This is on the request path, and there can be
 * millions of decisions, so there is no object per decision: a ring of typed arrays, 64 bytes a
 * slot. A decision id carries its sequence number (see decision-id.ts), which names its slot, so a
 * lookup is one comparison of id bytes — no hash map. A new decision overwrites the oldest one in
 * its slot (counted as an eviction when that one still waited).
 */
import type { ModelVersion } from '../../registry/repository.js';
import type { Arm, ArmChoice } from '../../routing/router.js';
import { Bytes } from '../bytes.js';
import type { Journal, JournalSource } from './journal.js';
import { ID_BYTES, sequenceOf, type DecisionIds } from '../../feedback/decision-id.js';
import type { DecidedJob, DecisionSink, JoinedDecision } from '../../feedback/decision-log.js';
import { Decision, servedBytes, writeDecisionLine, type ServedBy } from '../../feedback/decision.js';
import { DEFAULT_FEATURE_LIMITS, LoggedFeatures, type FeatureLimits } from '../../feedback/logged-features.js';
import { ContextRing } from './context-ring.js';

/** What a decision served: shared by every decision with the same route, arm and version. */
interface Served extends ServedBy {
  readonly versionKey: string;
  /** Its part of a journal line, encoded once. */
  readonly bytes: Buffer;
}

const EMPTY = -1;
/** Snapshot lines per chunk (about 1 ms of writing here): the event loop is held for one chunk at a time. */
const SNAPSHOT_SLICE = 2_000;
/** And slots looked at per chunk, however few of them hold decisions. */
const SNAPSHOT_SCAN = 32 * SNAPSHOT_SLICE;

/**
 * A snapshot being read: the newest sequence number it holds, and the rewards it was taken with
 * for the slots settled since (copy on write: copying every reward was a 6 ms pause at a million).
 */
interface Capture {
  readonly upTo: number;
  readonly before: Map<number, number>;
}

export class DecisionStore implements DecisionSink, JournalSource {
  /** Decisions dropped to make room before their window passed. */
  evicted = 0;
  /** Decisions held that still wait for their outcome. */
  pending = 0;
  /** Decisions held. */
  size = 0;
  /** The highest sequence number held (-1: none); new ids continue after it. */
  maxSeq = -1;
  readonly capacity: number;
  private readonly ids: Buffer;
  /** Sequence number per slot; EMPTY when the slot is free. */
  private readonly seqs: Float64Array;
  private readonly created: Float64Array;
  private readonly propensity: Float64Array;
  /** The reward credited; NaN while the decision waits. */
  private readonly reward: Float64Array;
  private readonly rows: Uint32Array;
  private readonly served: Uint32Array;
  /** The monitored score of the first row; NaN when the version has no `monitor`. */
  private readonly scores: Float64Array;
  /** Features of the decisions of routes that log them, by slot, bounded in bytes. */
  readonly features: LoggedFeatures;
  /** Contexts of the decisions of contextual routes, by slot. */
  readonly contexts: ContextRing;
  private readonly servedTable: Served[] = [];
  private readonly servedIndex = new Map<string, number>();
  /** The same, found by identity on the request path (no key string per decision). */
  private readonly servedByArm = new WeakMap<Arm, WeakMap<ModelVersion, number>>();
  private readonly scratch = Buffer.alloc(ID_BYTES);
  /**
   * The snapshot being read, if any (compactions run one at a time; one abandoned before it was
   * read is replaced by the next).
   */
  private capture: Capture | undefined;
  private journal: Journal | undefined;
  /** Decisions up to this sequence number are in the journal (or came from it). */
  private journaledSeq = -1;

  /** Ids minted here are taken as bytes from the minter (see `decided`). */
  private readonly minter: DecisionIds | undefined;

  constructor(capacity: number, minter?: DecisionIds, featureLimits?: FeatureLimits) {
    this.capacity = capacity;
    this.minter = minter;
    this.features = new LoggedFeatures(featureLimits);
    this.contexts = new ContextRing(capacity, (featureLimits ?? DEFAULT_FEATURE_LIMITS).budgetBytes);
    this.ids = Buffer.alloc(capacity * ID_BYTES);
    this.seqs = new Float64Array(capacity).fill(EMPTY);
    this.created = new Float64Array(capacity);
    this.propensity = new Float64Array(capacity);
    this.reward = new Float64Array(capacity);
    this.rows = new Uint32Array(capacity);
    this.served = new Uint32Array(capacity);
    this.scores = new Float64Array(capacity);
  }

  /** From now on every decision is journaled: the journal takes their lines when it writes. */
  attach(journal: Journal): void {
    this.journal = journal;
    this.journaledSeq = this.maxSeq;
    journal.attachSource(this);
  }

  /** Writes the lines of the decisions made since the last call (in the order they were made). */
  drainInto(out: Bytes): void {
    const from = Math.max(this.journaledSeq + 1, this.maxSeq - this.capacity + 1);
    const logging = this.features.bytes > 0;
    for (let seq = from; seq <= this.maxSeq; seq++) {
      const slot = seq % this.capacity;
      if (this.seqs[slot] !== seq) continue;
      this.writeLine(out, slot, logging ? this.features.get(slot) : undefined, undefined);
    }
    this.journaledSeq = this.maxSeq;
  }

  /** Slot `slot`'s decision as one journal or snapshot line. */
  private writeLine(out: Bytes, slot: number, features: string | undefined, reward: number | undefined): void {
    writeDecisionLine(
      out,
      this.ids,
      slot * ID_BYTES,
      ID_BYTES,
      this.created[slot]!,
      this.servedAt(slot).bytes,
      this.propensity[slot]!,
      this.rows[slot]!,
      features,
      reward,
      this.scores[slot]!,
      this.contexts.json(slot),
    );
  }

  decided(
    id: string,
    createdMs: number,
    pick: ArmChoice,
    rows: number,
    features: unknown,
    job: DecidedJob,
    score = NaN,
  ): void {
    const { route, arm, version } = pick;
    let byVersion = this.servedByArm.get(arm);
    if (!byVersion) this.servedByArm.set(arm, (byVersion = new WeakMap()));
    let served = byVersion.get(version);
    if (served === undefined)
      byVersion.set(
        version,
        (served = this.servedOf(route.name, arm.name, version.model, version.version, version.sha256)),
      );
    const m = this.minter;
    // The id just minted (always, on the request path): its bytes and sequence number are at hand.
    if (m !== undefined && id === m.lastId)
      this.putBytes(
        m.idBytes,
        m.lastAt,
        m.lastSeq,
        createdMs,
        served,
        pick.propensity,
        rows,
        features,
        NaN,
        score,
        pick.context,
      );
    else this.put(id, createdMs, served, pick.propensity, rows, features, NaN, score, pick.context);
    this.journal?.poke();
    job.answer();
  }

  /** The decision `id` names, if held. */
  get(id: string): Decision | undefined {
    const slot = this.slotOf(id);
    if (slot < 0) return undefined;
    const s = this.servedAt(slot);
    const reward = this.reward[slot]!;
    const features = this.features.get(slot);
    return new Decision(
      id,
      this.created[slot]!,
      s.route,
      s.arm,
      s.model,
      s.version,
      s.versionKey,
      s.sha256,
      this.propensity[slot]!,
      this.rows[slot]!,
      features === undefined ? undefined : JSON.parse(features),
      Number.isNaN(reward) ? undefined : reward,
      this.scores[slot]!,
      undefined,
      this.contexts.get(slot),
    );
  }

  /** The decision in `slot` as a training row reads it (its features parsed: routes with logFeatures only). */
  joinedAt(slot: number): JoinedDecision {
    const s = this.servedAt(slot);
    const features = this.features.get(slot);
    return {
      createdMs: this.created[slot]!,
      model: s.model,
      version: s.version,
      propensity: this.propensity[slot]!,
      features: features === undefined ? undefined : JSON.parse(features),
      context: this.contexts.get(slot),
    };
  }

  /** The context the decision in `slot` kept (contextual routes), if any. */
  contextAt(slot: number): Float64Array | undefined {
    return this.contexts.get(slot);
  }

  /** The monitored score of the decision in `slot` (NaN: none). */
  scoreAt(slot: number): number {
    return this.scores[slot]!;
  }

  /**
   * The slot of the decision whose id's bytes are at `at` in `bytes` (as `DecisionIds.verifyAll`
   * decoded them), or -1: the feedback path's lookup, with no decoding and no object per outcome.
   */
  find(bytes: Buffer, at: number): number {
    const slot = sequenceOf(bytes, at) % this.capacity;
    if (this.seqs[slot] === EMPTY) return -1;
    const ids = this.ids;
    const held = slot * ID_BYTES;
    for (let j = 0; j < ID_BYTES; j++) if (ids[held + j] !== bytes[at + j]) return -1;
    return slot;
  }

  /** What the decision in `slot` served. */
  servedAt(slot: number): Readonly<Served> {
    return this.servedTable[this.served[slot]!]!;
  }

  /** Whether the decision in `slot` has its outcome. */
  settledAt(slot: number): boolean {
    return !Number.isNaN(this.reward[slot]!);
  }

  /** Records the outcome of the waiting decision in `slot`. */
  settleAt(slot: number, reward: number): void {
    if (this.settledAt(slot)) return;
    const c = this.capture;
    if (c !== undefined && this.seqs[slot]! <= c.upTo && !c.before.has(slot)) c.before.set(slot, NaN);
    this.reward[slot] = reward;
    this.pending--;
  }

  /** Puts back a decision read from the state directory; false when it is already held. */
  restore(d: Decision): boolean {
    if (this.slotOf(d.id) >= 0) return false;
    const served = this.servedOf(d.route, d.arm, d.model, d.version, d.sha256);
    return this.put(d.id, d.createdMs, served, d.propensity, d.rows, d.features, d.reward ?? NaN, d.score, d.context);
  }

  /** Records the outcome of a waiting decision. */
  settle(d: Decision, reward: number): void {
    const slot = this.slotOf(d.id);
    if (slot < 0 || this.settledAt(slot)) return;
    this.settleAt(slot, reward);
    d.reward = reward;
  }

  /**
   * The snapshot lines of every decision held now, oldest first, with their rewards, as chunks of
   * bytes. Produced lazily (the snapshot is written in slices while requests go on), from what is
   * captured here: the rewards as they are now, and the newest sequence number, past which a slot
   * holds a decision made later (journaled after this turn, so not the snapshot's). Decisions past
   * their route's window at `nowMs` are dropped as they are met (not counted as evictions).
   */
  snapshotLines(nowMs: number, windowMs: (route: string) => number): Iterable<Buffer> {
    this.journal?.pullSource();
    const capture: Capture = (this.capture = { upTo: this.maxSeq, before: new Map() });
    return this.linesOf(
      capture,
      nowMs,
      this.servedTable.map((s) => windowMs(s.route)),
    );
  }

  private *linesOf(capture: Capture, nowMs: number, windows: readonly number[]): Generator<Buffer> {
    try {
      const { upTo, before } = capture;
      const out = new Bytes(1 << 20);
      const start = upTo < 0 ? 0 : (upTo + 1) % this.capacity;
      let lines = 0;
      for (let n = 0; n < this.capacity; n++) {
        if (n % SNAPSHOT_SCAN === SNAPSHOT_SCAN - 1) {
          yield Buffer.from(out.view());
          out.clear();
        }
        const slot = (start + n) % this.capacity;
        const seq = this.seqs[slot]!;
        if (seq === EMPTY || seq > upTo) continue;
        if (nowMs - this.created[slot]! > windows[this.served[slot]!]!) {
          this.clear(slot);
          continue;
        }
        const reward = before.size > 0 ? (before.get(slot) ?? this.reward[slot]!) : this.reward[slot]!;
        this.writeLine(out, slot, this.features.get(slot), Number.isNaN(reward) ? undefined : reward);
        if (++lines % SNAPSHOT_SLICE === 0) {
          yield Buffer.from(out.view());
          out.clear();
        }
      }
      if (out.length > 0) yield Buffer.from(out.view());
    } finally {
      if (this.capture === capture) this.capture = undefined;
    }
  }

  private put(
    id: string,
    createdMs: number,
    served: number,
    propensity: number,
    rows: number,
    features: unknown,
    reward: number,
    score: number,
    context: Float64Array | undefined,
  ): boolean {
    if (this.scratch.write(id, 'base64url') !== ID_BYTES) return false;
    return this.putBytes(
      this.scratch,
      0,
      sequenceOf(this.scratch),
      createdMs,
      served,
      propensity,
      rows,
      features,
      reward,
      score,
      context,
    );
  }

  /** Puts the decision whose id is `ID_BYTES` bytes of `idBytes` at `idAt`, with sequence number `seq`. */
  private putBytes(
    idBytes: Buffer,
    idAt: number,
    seq: number,
    createdMs: number,
    served: number,
    propensity: number,
    rows: number,
    features: unknown,
    reward: number,
    score: number,
    context: Float64Array | undefined,
  ): boolean {
    const slot = seq % this.capacity;
    const held = this.seqs[slot]!;
    if (held !== EMPTY) {
      if (held > seq) {
        if (Number.isNaN(reward)) this.evicted++;
        return false;
      }
      // A ring smaller than one write's worth of decisions: hand this one to the journal first.
      if (held > this.journaledSeq) this.journal?.pullSource();
      if (!this.settledAt(slot)) this.evicted++;
      this.clear(slot);
    }
    const ids = this.ids;
    const to = slot * ID_BYTES;
    for (let j = 0; j < ID_BYTES; j++) ids[to + j] = idBytes[idAt + j]!;
    this.seqs[slot] = seq;
    this.created[slot] = createdMs;
    this.propensity[slot] = propensity;
    this.rows[slot] = rows;
    this.served[slot] = served;
    this.reward[slot] = reward;
    this.scores[slot] = score;
    if (features !== undefined) this.features.keep(slot, features);
    if (context !== undefined) this.contexts.put(slot, context);
    if (Number.isNaN(reward)) this.pending++;
    this.size++;
    if (seq > this.maxSeq) this.maxSeq = seq;
    return true;
  }

  private clear(slot: number): void {
    if (!this.settledAt(slot)) this.pending--;
    this.seqs[slot] = EMPTY;
    if (this.features.bytes > 0) this.features.drop(slot);
    this.contexts.clear(slot);
    this.size--;
  }

  /** The slot holding `id`, or -1. */
  private slotOf(id: string): number {
    return this.scratch.write(id, 'base64url') === ID_BYTES ? this.find(this.scratch, 0) : -1;
  }

  private servedOf(route: string, arm: string, model: string, version: string, sha256: string): number {
    const key = `${route}\n${arm}\n${model}\n${version}\n${sha256}`;
    let index = this.servedIndex.get(key);
    if (index === undefined) {
      index = this.servedTable.length;
      const s = { route, arm, model, version, sha256 };
      this.servedTable.push({ ...s, versionKey: `${model}@${version}`, bytes: servedBytes(s) });
      this.servedIndex.set(key, index);
    }
    return index;
  }
}
