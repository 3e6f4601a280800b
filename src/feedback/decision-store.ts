/**
 * The decisions waiting for outcomes (embedded mode), bounded by CROUPIER_DECISIONS_MAX so memory
 * stays bounded however little feedback comes back. This is on the request path, and there can be
 * millions of decisions, so there is no object per decision: a ring of typed arrays, 64 bytes a
 * slot. A decision id carries its sequence number (see decision-id.ts), which names its slot, so a
 * lookup is one comparison of id bytes — no hash map. A new decision overwrites the oldest one in
 * its slot (counted as an eviction when that one still waited).
 */
import type { DecidedJob, DecisionSink } from '../gateway.js';
import type { ModelVersion } from '../registry/repository.js';
import type { Arm, Pick } from '../routing/router.js';
import type { Journal } from '../state/journal.js';
import { ID_BYTES, sequenceOf } from './decision-id.js';
import { Decision, decisionLine, type ServedBy } from './decision.js';

/** What a decision served: shared by every decision with the same route, arm and version. */
interface Served extends ServedBy {
  readonly versionKey: string;
}

const EMPTY = -1;

export class DecisionStore implements DecisionSink {
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
  /** Features of the decisions of routes that log them, by slot. */
  private readonly features = new Map<number, unknown>();
  private readonly servedTable: Served[] = [];
  private readonly servedIndex = new Map<string, number>();
  /** The same, found by identity on the request path (no key string per decision). */
  private readonly servedByArm = new WeakMap<Arm, WeakMap<ModelVersion, number>>();
  private readonly scratch = Buffer.alloc(ID_BYTES);
  private journal: Journal | undefined;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.ids = Buffer.alloc(capacity * ID_BYTES);
    this.seqs = new Float64Array(capacity).fill(EMPTY);
    this.created = new Float64Array(capacity);
    this.propensity = new Float64Array(capacity);
    this.reward = new Float64Array(capacity);
    this.rows = new Uint32Array(capacity);
    this.served = new Uint32Array(capacity);
  }

  /** From now on every decision is journaled. */
  attach(journal: Journal): void {
    this.journal = journal;
  }

  decided(id: string, createdMs: number, pick: Pick, rows: number, features: unknown, job: DecidedJob): void {
    const { route, arm, version } = pick;
    let byVersion = this.servedByArm.get(arm);
    if (!byVersion) this.servedByArm.set(arm, byVersion = new WeakMap());
    let served = byVersion.get(version);
    if (served === undefined) byVersion.set(version, served = this.servedOf(route.name, arm.name, version.model, version.version, version.sha256));
    const logged = route.spec.logFeatures ? features : undefined;
    this.put(id, createdMs, served, pick.propensity, rows, logged, NaN);
    this.journal?.appendLine(decisionLine(id, createdMs, this.servedTable[served]!, pick.propensity, rows, logged, undefined));
    job.answer();
  }

  /** The decision `id` names, if held. */
  get(id: string): Decision | undefined {
    const slot = this.slotOf(id);
    if (slot < 0) return undefined;
    const s = this.servedTable[this.served[slot]!]!;
    const reward = this.reward[slot]!;
    return new Decision(id, this.created[slot]!, s.route, s.arm, s.model, s.version, s.versionKey, s.sha256,
      this.propensity[slot]!, this.rows[slot]!, this.features.get(slot), Number.isNaN(reward) ? undefined : reward);
  }

  /** Puts back a decision read from the state directory; false when it is already held. */
  restore(d: Decision): boolean {
    if (this.slotOf(d.id) >= 0) return false;
    const served = this.servedOf(d.route, d.arm, d.model, d.version, d.sha256);
    return this.put(d.id, d.createdMs, served, d.propensity, d.rows, d.features, d.reward ?? NaN);
  }

  /** Records the outcome of a waiting decision. */
  settle(d: Decision, reward: number): void {
    const slot = this.slotOf(d.id);
    if (slot < 0 || !Number.isNaN(this.reward[slot]!)) return;
    this.reward[slot] = reward;
    d.reward = reward;
    this.pending--;
  }

  /** Drops the decisions past their route's window (not counted as evictions). */
  sweep(nowMs: number, windowMs: (route: string) => number): void {
    const windows = this.servedTable.map((s) => windowMs(s.route));
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.seqs[slot] !== EMPTY && nowMs - this.created[slot]! > windows[this.served[slot]!]!) this.clear(slot);
    }
  }

  /**
   * Snapshot lines of every decision held now, oldest first, with their rewards. Produced lazily
   * (the snapshot is written in slices while requests go on), from what is captured here: the
   * rewards as they are now, and the newest sequence number, past which a slot holds a decision
   * made later (journaled after this turn, so not the snapshot's).
   */
  snapshotLines(): Iterable<string> {
    return this.linesOf(this.reward.slice(), this.maxSeq);
  }

  private *linesOf(rewards: Float64Array, upTo: number): Generator<string> {
    const start = upTo < 0 ? 0 : (upTo + 1) % this.capacity;
    for (let n = 0; n < this.capacity; n++) {
      const slot = (start + n) % this.capacity;
      const seq = this.seqs[slot]!;
      if (seq === EMPTY || seq > upTo) continue;
      const reward = rewards[slot]!;
      yield decisionLine(this.ids.toString('base64url', slot * ID_BYTES, (slot + 1) * ID_BYTES), this.created[slot]!,
        this.servedTable[this.served[slot]!]!, this.propensity[slot]!, this.rows[slot]!, this.features.get(slot),
        Number.isNaN(reward) ? undefined : reward);
    }
  }

  private put(id: string, createdMs: number, served: number, propensity: number, rows: number, features: unknown, reward: number): boolean {
    if (this.scratch.write(id, 'base64url') !== ID_BYTES) return false;
    const seq = sequenceOf(this.scratch);
    const slot = seq % this.capacity;
    const held = this.seqs[slot]!;
    if (held !== EMPTY) {
      if (held > seq) { if (Number.isNaN(reward)) this.evicted++; return false; }
      if (Number.isNaN(this.reward[slot]!)) this.evicted++;
      this.clear(slot);
    }
    this.scratch.copy(this.ids, slot * ID_BYTES);
    this.seqs[slot] = seq;
    this.created[slot] = createdMs;
    this.propensity[slot] = propensity;
    this.rows[slot] = rows;
    this.served[slot] = served;
    this.reward[slot] = reward;
    if (features !== undefined) this.features.set(slot, features);
    if (Number.isNaN(reward)) this.pending++;
    this.size++;
    if (seq > this.maxSeq) this.maxSeq = seq;
    return true;
  }

  private clear(slot: number): void {
    if (Number.isNaN(this.reward[slot]!)) this.pending--;
    this.seqs[slot] = EMPTY;
    this.features.delete(slot);
    this.size--;
  }

  /** The slot holding `id`, or -1. */
  private slotOf(id: string): number {
    if (this.scratch.write(id, 'base64url') !== ID_BYTES) return -1;
    const slot = sequenceOf(this.scratch) % this.capacity;
    if (this.seqs[slot] === EMPTY || this.ids.compare(this.scratch, 0, ID_BYTES, slot * ID_BYTES, (slot + 1) * ID_BYTES) !== 0) return -1;
    return slot;
  }

  private servedOf(route: string, arm: string, model: string, version: string, sha256: string): number {
    const key = `${route}\n${arm}\n${model}\n${version}\n${sha256}`;
    let index = this.servedIndex.get(key);
    if (index === undefined) {
      index = this.servedTable.length;
      this.servedTable.push({ route, arm, model, version, versionKey: `${model}@${version}`, sha256 });
      this.servedIndex.set(key, index);
    }
    return index;
  }
}
