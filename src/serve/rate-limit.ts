/**
 * A token bucket per client IP: each client holds up to `burst` tokens, refilled at `perSecond`; a
 * request takes one or is refused with the seconds until the next token (the Retry-After header).
 * Memory stays bounded: buckets that are full again are dropped when the table grows large.
 */
export interface RateLimitOptions {
  /** Sustained requests per second per client; 0 switches the limiter off. */
  perSecond: number;
  /** Bucket size: requests a client may send at once. */
  burst: number;
}

export const DEFAULT_RATE_LIMIT: Readonly<RateLimitOptions> = Object.freeze({ perSecond: 100, burst: 200 });

const MAX_CLIENTS = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly options: RateLimitOptions,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get enabled(): boolean {
    return this.options.perSecond > 0;
  }

  /** null when allowed; otherwise the seconds to wait (≥ 1, whole seconds as Retry-After wants). */
  take(client: string): number | null {
    if (!this.enabled) return null;
    const { perSecond, burst } = this.options;
    const t = this.now();
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= MAX_CLIENTS) this.prune(t);
      b = { tokens: burst, at: t };
      this.buckets.set(client, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * perSecond);
      b.at = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return null;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
  }

  private prune(t: number): void {
    const { perSecond, burst } = this.options;
    for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * perSecond >= burst) this.buckets.delete(k);
    // Still full of active clients: forget the oldest half rather than grow without bound.
    if (this.buckets.size >= MAX_CLIENTS) {
      let drop = this.buckets.size / 2;
      for (const k of this.buckets.keys()) {
        if (drop-- <= 0) break;
        this.buckets.delete(k);
      }
    }
  }
}
