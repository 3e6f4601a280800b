/**
 * Counters and histograms for the request path. prom-client hashes the label set on every inc and
 * observe, even through a child from `labels()` (about 0.4 µs each on these machines, several per
 * request); here a child is a few plain numbers, and the registry reads them at scrape time through
 * the metric interface prom-client's own registry uses (`get()`), so the text format is its own.
 * Callers keep the children they get from `labels()`: finding one hashes nothing but is not free.
 */
import type client from 'prom-client';

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

abstract class FastMetric<C> {
  readonly name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  protected readonly labelNames: readonly string[];
  protected children = new Map<string, { labels: Record<string, string>; child: C }>();

  constructor(name: string, help: string, labelNames: readonly string[], registry: client.Registry) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    registry.registerMetric(this as unknown as client.Metric);
  }

  protected abstract create(): C;

  /** The child for these label values (in labelNames order), created at zero on first use. */
  labels(...values: string[]): C {
    const key = values.join('\u0000');
    let entry = this.children.get(key);
    if (!entry) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => {
        labels[n] = values[i] ?? '';
      });
      entry = { labels, child: this.create() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  reset(): void {
    this.children = new Map();
  }

  /**
   * Removes the children whose labels include every pair of `match` (a retired model version), so
   * the page stops showing them instead of freezing them at their last value. Callers drop the
   * cells they cached: a removed cell counts on, unseen.
   */
  removeMatching(match: Readonly<Record<string, string>>): void {
    const pairs = Object.entries(match);
    for (const [key, { labels }] of this.children)
      if (pairs.every(([name, value]) => labels[name] === value)) this.children.delete(key);
  }

  protected abstract values(labels: Record<string, string>, child: C): MetricValue[];

  get(): MetricData {
    const values: MetricValue[] = [];
    for (const { labels, child } of this.children.values()) values.push(...this.values(labels, child));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export class CounterCell {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class FastCounter extends FastMetric<CounterCell> {
  readonly type = 'counter';

  protected create(): CounterCell {
    return new CounterCell();
  }

  protected values(labels: Record<string, string>, child: CounterCell): MetricValue[] {
    return [{ labels, value: child.value }];
  }
}

export class HistogramCell {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  private readonly bounds: readonly number[];

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class FastHistogram extends FastMetric<HistogramCell> {
  readonly type = 'histogram';
  private readonly bounds: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    bounds: readonly number[],
    registry: client.Registry,
  ) {
    super(name, help, labelNames, registry);
    this.bounds = bounds;
  }

  protected create(): HistogramCell {
    return new HistogramCell(this.bounds);
  }

  protected values(labels: Record<string, string>, child: HistogramCell): MetricValue[] {
    const out: MetricValue[] = [];
    let cumulative = 0;
    this.bounds.forEach((le, i) => {
      cumulative += child.counts[i]!;
      out.push({ labels: { le, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
    });
    out.push({ labels: { le: '+Inf', ...labels }, value: child.count, metricName: `${this.name}_bucket` });
    out.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
    out.push({ labels, value: child.count, metricName: `${this.name}_count` });
    return out;
  }
}
