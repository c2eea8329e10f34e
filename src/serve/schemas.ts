/**
 * The JSON schemas of every route (request and response). Fastify validates requests and serialises
 * responses with them, and the OpenAPI document is generated from them, so the documented API and
 * the enforced one are the same objects.
 */
import { ERROR_SCHEMA } from './errors.ts';
import { FILTERS_SCHEMA } from './filters.ts';

export interface Limits {
  /** Longest query text, in characters. */
  maxQueryChars: number;
  /** Most results a search returns (k). */
  maxK: number;
  /** Most documents one rerank call scores. */
  maxDocuments: number;
  /** Longest document text, in characters. */
  maxDocumentChars: number;
  /** Most pairs one judge call labels. */
  maxJudgePairs: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({ maxQueryChars: 512, maxK: 100, maxDocuments: 1000, maxDocumentChars: 8000, maxJudgePairs: 50 });

const errorRef = { $ref: 'Error#' } as const;
const errors = { 400: errorRef, 404: errorRef, 413: errorRef, 415: errorRef, 429: errorRef, 500: errorRef, 503: errorRef } as const;
const adminErrors = { ...errors, 401: errorRef } as const;

const levels = {
  type: 'array',
  items: { type: 'number' },
  minItems: 5,
  maxItems: 5,
  description: 'P(L1) … P(L5): the level distribution as a rater would judge the pair',
} as const;

const modelInfo = {
  type: 'object',
  required: ['name', 'version', 'dataset', 'retriever', 'candidates', 'loadedAt'],
  properties: {
    name: { type: 'string' },
    version: { type: 'string', description: 'the student ONNX checksum prefix, or the ranker name' },
    dataset: { type: 'string' },
    retriever: { type: 'string' },
    candidates: { type: 'integer' },
    loadedAt: { type: 'string' },
  },
} as const;

export function routeSchemas(l: Limits) {
  const query = { type: 'string', minLength: 1, maxLength: l.maxQueryChars, description: `the query text (at most ${l.maxQueryChars} characters)` } as const;
  return {
    search: {
      summary: 'Search the catalogue: retrieve candidates, re-rank them with the model, return the top k',
      tags: ['search'],
      body: {
        type: 'object',
        required: ['query'],
        additionalProperties: false,
        properties: {
          query,
          k: { type: 'integer', minimum: 1, maximum: l.maxK, default: 10 },
          filters: FILTERS_SCHEMA,
          explain: { type: 'boolean', default: false, description: 'add the per-feature explanation of each result (student models only)' },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['results', 'model', 'tookMs'],
          properties: {
            results: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'title', 'score', 'expectedGrade', 'levels'],
                properties: {
                  id: { type: 'string' },
                  title: { type: 'string' },
                  score: { type: 'number', description: 'the ranking score (higher is better)' },
                  expectedGrade: { type: 'number', description: 'expected level, 1–5, of the level distribution' },
                  levels,
                  explanation: {
                    type: 'array',
                    description: 'features by |contribution|: the change of the expected level when the feature is replaced by its training mean',
                    items: {
                      type: 'object',
                      required: ['feature', 'value', 'contribution'],
                      properties: { feature: { type: 'string' }, value: { type: 'number' }, contribution: { type: 'number' } },
                    },
                  },
                },
              },
            },
            model: { type: 'string', description: 'name@version of the model that ranked' },
            tookMs: { type: 'number' },
          },
        },
        ...errors,
      },
    },
    rerank: {
      summary: 'Re-rank free-text documents for a query (the Cohere / Jina / vLLM rerank shape)',
      tags: ['search'],
      body: {
        type: 'object',
        required: ['query', 'documents'],
        additionalProperties: false,
        properties: {
          model: { type: 'string', maxLength: 200, description: 'accepted for compatibility; the loaded model answers' },
          query,
          documents: {
            type: 'array',
            minItems: 1,
            maxItems: l.maxDocuments,
            items: {
              anyOf: [
                { type: 'string', maxLength: l.maxDocumentChars },
                {
                  type: 'object',
                  required: ['text'],
                  additionalProperties: false,
                  properties: { text: { type: 'string', maxLength: l.maxDocumentChars }, title: { type: 'string', maxLength: 1000 } },
                },
              ],
            },
          },
          top_n: { type: 'integer', minimum: 1, maximum: l.maxDocuments },
          return_documents: { type: 'boolean', default: false },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['results'],
          properties: {
            id: { type: 'string' },
            model: { type: 'string' },
            results: {
              type: 'array',
              items: {
                type: 'object',
                required: ['index', 'relevance_score'],
                properties: {
                  index: { type: 'integer' },
                  relevance_score: { type: 'number', description: 'expected level rescaled to 0–1: (E[level] − 1) / 4' },
                  document: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
                },
              },
            },
          },
        },
        ...errors,
        422: errorRef,
      },
    },
    judge: {
      summary: 'Teacher labels for (query, item) pairs: cached labels are free, new ones are paid once and cached (admin)',
      tags: ['admin'],
      security: [{ bearer: [] }],
      body: {
        type: 'object',
        required: ['pairs'],
        additionalProperties: false,
        properties: {
          pairs: {
            type: 'array',
            minItems: 1,
            maxItems: l.maxJudgePairs,
            items: {
              type: 'object',
              required: ['query'],
              additionalProperties: false,
              properties: {
                query,
                itemId: { type: 'string', minLength: 1, maxLength: 200 },
                text: { type: 'string', minLength: 1, maxLength: l.maxDocumentChars },
              },
            },
          },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['teacher', 'results', 'spent'],
          properties: {
            teacher: {
              type: 'object',
              required: ['name', 'model', 'promptVersion'],
              properties: { name: { type: 'string' }, model: { type: 'string' }, promptVersion: { type: 'string' } },
            },
            results: {
              type: 'array',
              items: {
                type: 'object',
                required: ['query', 'levels', 'expectedLevel', 'cached', 'method'],
                properties: {
                  query: { type: 'string' },
                  itemId: { type: 'string' },
                  levels,
                  expectedLevel: { type: 'number' },
                  cached: { type: 'boolean' },
                  method: { type: 'string' },
                },
              },
            },
            spent: {
              type: 'object',
              description: 'what this process has paid the teacher so far',
              required: ['calls', 'inputTokens', 'outputTokens', 'usd'],
              properties: { calls: { type: 'integer' }, inputTokens: { type: 'integer' }, outputTokens: { type: 'integer' }, usd: { type: 'number' } },
            },
          },
        },
        ...adminErrors,
        402: errorRef,
      },
    },
    reload: {
      summary: 'Swap to a new artifact set atomically; in-flight requests finish on the old one (admin)',
      tags: ['admin'],
      security: [{ bearer: [] }],
      body: {
        type: 'object',
        additionalProperties: false,
        description: 'fields left out keep their current value',
        properties: {
          store: { type: 'string', minLength: 1, maxLength: 4096 },
          dataset: { type: 'string', minLength: 1, maxLength: 64 },
          model: { type: 'string', minLength: 1, maxLength: 4096 },
          retriever: { type: 'string', minLength: 1, maxLength: 64 },
          candidates: { type: 'integer', minimum: 1, maximum: 10000 },
        },
      },
      response: {
        200: { type: 'object', required: ['model', 'previous', 'loadMs'], properties: { model: modelInfo, previous: modelInfo, loadMs: { type: 'number' } } },
        ...adminErrors,
        422: errorRef,
      },
    },
    healthz: {
      summary: 'Liveness: the process answers',
      tags: ['ops'],
      response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } }, ...errors },
    },
    readyz: {
      summary: 'Readiness: the artifacts are loaded and the service takes requests',
      tags: ['ops'],
      response: {
        200: { type: 'object', required: ['status', 'model'], properties: { status: { type: 'string', enum: ['ready'] }, model: modelInfo } },
        ...errors,
      },
    },
    metrics: {
      summary: 'Prometheus metrics (text exposition format 0.0.4)',
      tags: ['ops'],
      response: { 200: { type: 'string', description: 'text/plain; version=0.0.4' }, ...errors },
    },
    openapi: {
      summary: 'This OpenAPI 3.1 document',
      tags: ['ops'],
      response: { 200: { type: 'object', additionalProperties: true }, ...errors },
    },
  };
}

export { ERROR_SCHEMA };
