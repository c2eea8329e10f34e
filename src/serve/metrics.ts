/**
 * Prometheus text exposition (format 0.0.4), written here: request latency histograms per route,
 * request counts by route and status, and gauges the app fills at scrape time (model info, the
 * retriever's cache statistics, judge spending).
 */

/** Latency buckets in seconds: dense around the 15 ms p99 target. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

type Labels = Readonly<Record<string, string>>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

interface HistogramSeries {
  labels: Labels;
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram {
  private readonly series = new Map<string, HistogramSeries>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = LATENCY_BUCKETS,
  ) {}

  observe(labels: Labels, value: number): void {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]! += 1;
    s.sum += value;
    s.count += 1;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: num(b) })} ${s.counts[i]!}`));
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

export class Counter {
  private readonly series = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { labels, value: by });
  }

  value(labels: Labels = {}): number {
    return this.series.get(labelText(labels))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const s of this.series.values()) lines.push(`${this.name}${labelText(s.labels)} ${num(s.value)}`);
    return lines.join('\n');
  }
}

/** A gauge family whose values are read when scraped. */
export function gauge(name: string, help: string, values: ReadonlyArray<{ labels?: Labels; value: number }>): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`];
  for (const v of values) lines.push(`${name}${labelText(v.labels ?? {})} ${num(v.value)}`);
  return lines.join('\n');
}

export class ServiceMetrics {
  readonly latency = new Histogram('distilrank_http_request_duration_seconds', 'Time from receiving a request to sending its response, by route and method.');
  readonly requests = new Counter('distilrank_http_requests_total', 'Requests answered, by route, method and status code.');
  readonly rateLimited = new Counter('distilrank_rate_limited_total', 'Requests refused by the per-client rate limiter.');
  readonly reloads = new Counter('distilrank_artifact_reloads_total', 'Artifact reloads by result (ok, failed).');

  record(route: string, method: string, status: number, seconds: number): void {
    this.latency.observe({ route, method }, seconds);
    this.requests.inc({ route, method, status: String(status) });
  }
}

/**
 * A retriever's `stats()` (duck-typed: the vector and hybrid retrievers expose their query-embedding
 * cache there) as gauges. Numeric fields become `distilrank_retriever_<field>`; a hit rate is derived
 * from hits/misses fields when the retriever does not report one itself.
 */
export function retrieverStatsGauges(stats: unknown): string[] {
  if (typeof stats !== 'object' || stats === null) return [];
  const flat: Array<[string, number]> = [];
  const walk = (prefix: string, o: Record<string, unknown>, depth: number) => {
    for (const [k, v] of Object.entries(o)) {
      const name = `${prefix}${k
        .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
        .replace(/[^A-Za-z0-9_]/g, '_')
        .toLowerCase()}`;
      if (typeof v === 'number' && Number.isFinite(v)) flat.push([name, v]);
      else if (depth < 2 && typeof v === 'object' && v !== null && !Array.isArray(v)) walk(`${name}_`, v as Record<string, unknown>, depth + 1);
    }
  };
  walk('', stats as Record<string, unknown>, 0);
  const out = flat.map(([k, v]) => gauge(`distilrank_retriever_${k}`, `The retriever's stats().${k}.`, [{ value: v }]));
  const get = (re: RegExp) => flat.find(([k]) => re.test(k))?.[1];
  let rate = get(/hit_rate$|hit_ratio$/);
  const hits = get(/(^|_)hits$/);
  const misses = get(/(^|_)misses$/);
  if (rate === undefined && hits !== undefined && misses !== undefined) rate = hits + misses > 0 ? hits / (hits + misses) : 0;
  if (rate !== undefined)
    out.push(gauge('distilrank_query_embedding_cache_hit_ratio', 'Share of query embeddings served from the LRU cache.', [{ value: rate }]));
  return out;
}
