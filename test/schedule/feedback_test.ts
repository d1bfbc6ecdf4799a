import assert from "node:assert/strict";
import { RankCountFeedback, type RankCounts } from "../../src/schedule/feedback.ts";

const counts = (step: number): RankCounts => ({ step, k: step / 10, below: [step, step + 1] });

Deno.test("counts of metrics step m take effect at step m + every + 1, never at another step", () => {
  const feedback = new RankCountFeedback(10);
  const due = Array.from({ length: 60 }, (_, i) => feedback.dueAt(i + 1)).map((d, i) => [i + 1, d]);
  assert.deepEqual(due.filter(([, d]) => d !== null), [[21, 10], [31, 20], [41, 30], [51, 40]]);
  assert.deepEqual(new RankCountFeedback(1).dueAt(3), 1);
});

Deno.test("counts that arrive early wait for their step; the latest applied are current", () => {
  const feedback = new RankCountFeedback(10);
  assert.equal(feedback.current, null);
  feedback.add(counts(10));
  feedback.add(counts(20)); // arrived early, not yet due
  assert.ok(feedback.has(10) && feedback.has(20) && !feedback.has(30));
  feedback.apply(10);
  assert.deepEqual(feedback.current, counts(10));
  assert.ok(!feedback.has(10), "applied counts leave the pending set");
  feedback.apply(20);
  assert.deepEqual(feedback.current, counts(20));
});

Deno.test("applying counts that have not arrived throws, naming the step", () => {
  const feedback = new RankCountFeedback(5);
  assert.throws(
    () => feedback.apply(5),
    /RankCountFeedback\.apply as step must be a metrics step whose counts arrived: current value is 5/,
  );
  assert.throws(() => new RankCountFeedback(0), /every must be an integer >= 1: current value is 0/);
});

Deno.test("a restored state (through JSON, as in a checkpoint) continues exactly like the original", () => {
  const original = new RankCountFeedback(10);
  original.add(counts(10));
  original.add(counts(20));
  original.apply(10);
  original.add(counts(30));
  const restored = new RankCountFeedback(10);
  restored.setState(JSON.parse(JSON.stringify(original.state)));
  assert.deepEqual(restored.current, original.current);
  for (const step of [20, 30]) {
    original.apply(step);
    restored.apply(step);
    assert.deepEqual(restored.current, original.current);
  }
});
