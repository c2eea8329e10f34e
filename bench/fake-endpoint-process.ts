/**
 * The fake OpenAI-compatible endpoint of the tests (test/fake-openai.ts) in its own process, for the
 * labelling benchmark: so that its parsing and reply building run on their own event loop (as a real
 * endpoint's would) and are not counted as the job's overhead. Started with child_process.fork; it
 * answers every request after a fixed latency and records, per request, when its body had been read
 * and when its reply was written, as absolute times (performance.timeOrigin + now(), comparable
 * across processes). IPC: the parent sends 'reset' or 'collect'; the child sends {url} once, then
 * {intervals} for each 'collect'.
 */
import { messagesOf, startFakeOpenAI, type FakeReply, type FakeRequest } from '../test/fake-openai.ts';

const latencyMs = Number(process.env.DISTILRANK_BENCH_LATENCY_MS ?? 20);
const now = () => performance.timeOrigin + performance.now();
const userOf = (req: FakeRequest): string => [...messagesOf(req)].reverse().find((m) => m.role === 'user')?.content ?? '';

let intervals: Array<{ start: number; end: number; user: string }> = [];
const fake = await startFakeOpenAI({
  behaviour: (req) =>
    new Promise<FakeReply>((done) => {
      const iv = { start: now(), end: Number.NaN, user: userOf(req) };
      intervals.push(iv);
      setTimeout(() => {
        iv.end = now();
        done({ kind: 'answer' });
      }, latencyMs);
    }),
});
process.on('message', (m: unknown) => {
  if (m === 'reset') intervals = [];
  else if (m === 'collect') {
    process.send!({ intervals });
    intervals = [];
  } else if (m === 'close') void fake.close().then(() => process.exit(0));
});
process.send!({ url: fake.url });
