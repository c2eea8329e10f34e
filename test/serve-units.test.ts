/**
 * Pieces of the service tested on their own: the token bucket against a scripted clock, the retriever
 * stats() gauges (the query-embedding cache hit rate), and the Prometheus histogram arithmetic.
 */
import { describe, expect, it } from 'vitest';
import { Histogram, RateLimiter, retrieverStatsGauges } from '../src/serve/index.ts';

describe('RateLimiter (token bucket per client)', () => {
  it('allows a burst, then one request per 1/perSecond, and says how long to wait', () => {
    let now = 0;
    const rl = new RateLimiter({ perSecond: 2, burst: 3 }, () => now);
    expect([rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([null, null, null]);
    expect(rl.take('a')).toBe(1); // empty: half a second to the next token, rounded up to 1 s
    expect(rl.take('b')).toBeNull(); // other clients have their own bucket
    now = 499;
    expect(rl.take('a')).not.toBeNull();
    now = 1000; // 1 s after the bucket ran dry → 2 tokens (refused attempts take nothing)
    expect([rl.take('a'), rl.take('a')]).toEqual([null, null]);
    expect(rl.take('a')).not.toBeNull();
    now = 100_000; // refills to the burst, never beyond
    expect([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')].map((x) => x === null)).toEqual([true, true, true, false]);
  });

  it('with perSecond 0 it is off', () => {
    const rl = new RateLimiter({ perSecond: 0, burst: 1 });
    for (let i = 0; i < 100; i++) expect(rl.take('a')).toBeNull();
  });

  it('waits are whole seconds, longer for slow rates', () => {
    const rl = new RateLimiter({ perSecond: 0.1, burst: 1 }, () => 0);
    expect(rl.take('a')).toBeNull();
    expect(rl.take('a')).toBe(10);
  });
});

describe('retrieverStatsGauges', () => {
  it('exports numeric stats as gauges and derives the cache hit ratio from hits and misses', () => {
    const text = retrieverStatsGauges({ queryCache: { hits: 85, misses: 15, size: 100 }, vectors: 5000, name: 'hybrid' }).join('\n');
    expect(text).toContain('distilrank_retriever_query_cache_hits 85');
    expect(text).toContain('distilrank_retriever_vectors 5000');
    expect(text).not.toContain('hybrid');
    expect(text).toMatch(/^distilrank_query_embedding_cache_hit_ratio 0\.85$/m);
  });

  it('uses a reported hit rate as is; nothing for a retriever without stats', () => {
    expect(retrieverStatsGauges({ cacheHitRate: 0.5 }).join('\n')).toMatch(/^distilrank_query_embedding_cache_hit_ratio 0\.5$/m);
    expect(retrieverStatsGauges(undefined)).toEqual([]);
    expect(retrieverStatsGauges({ hits: 0, misses: 0 }).join('\n')).toMatch(/^distilrank_query_embedding_cache_hit_ratio 0$/m);
  });
});

describe('Histogram', () => {
  it('counts cumulatively per bucket; sum and count match the observations', () => {
    const h = new Histogram('t_seconds', 'test', [0.01, 0.1, 1]);
    for (const v of [0.005, 0.01, 0.05, 0.5, 2]) h.observe({ route: '/x' }, v);
    const text = h.render();
    expect(text).toContain('t_seconds_bucket{route="/x",le="0.01"} 2');
    expect(text).toContain('t_seconds_bucket{route="/x",le="0.1"} 3');
    expect(text).toContain('t_seconds_bucket{route="/x",le="1"} 4');
    expect(text).toContain('t_seconds_bucket{route="/x",le="+Inf"} 5');
    expect(text).toContain(`t_seconds_sum{route="/x"} ${0.005 + 0.01 + 0.05 + 0.5 + 2}`);
    expect(text).toContain('t_seconds_count{route="/x"} 5');
  });
});
