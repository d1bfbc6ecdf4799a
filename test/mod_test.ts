/**
 * Bad input at every door. For every runtime export of mod.ts (functions, constructors, and the methods a user
 * calls on what they return), one argument at a time is replaced by a bad value of its kind: a wrong type (a
 * string, an object, null, undefined where required), NaN, ±Infinity, a negative, zero, a huge (1e300) or a
 * non-integer number, a wrong shape or dtype, a destroyed tensor, a tensor of another Gpu, a prototype key where
 * a name is expected. Every other argument stays valid, so each row tests one thing.
 *
 * A row passes when the call throws a TypeError or RangeError (or the library's named error: IdxError,
 * CheckpointError, OutOfMemoryError; Deno.errors.NotFound for a save into a missing folder) whose message names the
 * argument, and, for a GPU entry point, leaves the counters untouched (no buffer allocated or taken from the pool,
 * no pipeline, no submit); or, for a value that is legitimately accepted, when the result is right (the row says
 * why it is accepted). Every call races a 10 s timer, so a hang fails its row. Each entry point also runs once with
 * valid arguments, checked: a bad row cannot pass because the call fails for some other reason.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as mod from "../mod.ts";
import {
  activationBackward,
  activationForward,
  ActivationLayer,
  allBatchNegatives,
  ansSchedule,
  applyMatmulTuning,
  BatchNegativeSampler,
  bestK,
  bestKFromCounts,
  boundMatmuls,
  checkpointBytes,
  CheckpointError,
  closedLoopK,
  columnSums,
  ContrastiveLoss,
  decodeSafetensors,
  defaultTuningCacheDir,
  DeviceDataset,
  effectiveness,
  Embedder,
  EmbeddingBag,
  EmbeddingQueue,
  encodeSafetensors,
  fixedK,
  gatherBytes,
  gaussian,
  Gpu,
  hasMnistFiles,
  IdxError,
  injectLabelNoise,
  knnEvaluate,
  knnEvaluateOnGpu,
  L2Normalize,
  l2normBackward,
  l2normForward,
  type LabelledBytes,
  lambdaFromClasses,
  lambdaFromCounts,
  lambdaFromLabelNoise,
  limitBestK,
  Linear,
  linearProbe,
  loadCheckpoint,
  loadCheckpointBytes,
  loadMatmulTuning,
  loadMnistFiles,
  matmul,
  MatmulKernel,
  matmulShapeClass,
  matmulTuningRecord,
  matmulVariantFits,
  mergeClasses,
  mlp,
  mnistSplits,
  modelAccuracyFromCounts,
  moduloMerge,
  NtXentLoss,
  Optimizer,
  OutOfMemoryError,
  packBytes,
  PairSampler,
  pairwiseAccuracy,
  ParameterStore,
  parseIdx,
  pixelEmbeddings,
  PoolSampler,
  randomPhotometric,
  randomWarps,
  RankCountFeedback,
  readIdx,
  readSafetensors,
  requestGpu,
  resolveTrainerConfig,
  Rng,
  SampledContrastiveLoss,
  saveCheckpoint,
  saveMatmulTuning,
  seededRandom,
  Sequential,
  sliceRows,
  SupConLoss,
  svgCharts,
  SyntheticClusters,
  syntheticImages,
  syntheticSplits,
  Tensor,
  terminalCharts,
  timeGpu,
  Trainer,
  TrainingStep,
  transposeKernel,
  tuneMatmul,
  tuneMatmulShapes,
  tuneTrainer,
  tuningCachePath,
  twoTower,
  warmupCosine,
  wordsPerRow,
} from "../mod.ts";
import { gpuTest, testGpu } from "./util/gpu.ts";

// ---------------------------------------------------------------------------------------------------------------
// Rows: a bad value for one argument, and what it must do.

// deno-lint-ignore no-explicit-any
type Any = any;
type ErrorClass = new (...args: Any[]) => Error;

/** A value that must be refused: `expect` thrown, its message naming the argument (or matching `names`). */
interface Refused {
  label: string;
  value: unknown;
  expect: ErrorClass;
  names?: RegExp;
}

/** A value that is legitimately accepted, `why`, with a check that the result is right. */
interface Accepted {
  label: string;
  value: unknown;
  why: string;
  check(result: Any): unknown;
}

type Case = Refused | Accepted;

/** Arguments by the names errors give them: "options.kMax" is the kMax field of the options argument. */
type Args = Record<string, unknown>;

/** One entry point: how to call it with valid arguments, and the bad values of each argument. */
interface Door {
  /** The entry point, as a call reads. */
  name: string;
  /** Valid arguments, fresh for each row. */
  args(): Args;
  /** Calls the entry point. */
  call(a: Args): unknown;
  /** Bad (and legitimately accepted) values, per argument. */
  bad: Record<string, Case[]>;
  /** Checks what the valid arguments give. */
  good?(result: Any): unknown;
  /** Frees what an accepted call returned. */
  free?(result: Any): void;
  /** A GPU entry point: a refused value must leave the counters as they were. */
  gpu?: boolean;
  /** What the messages of an argument's rows must match, where the error names it otherwise (a nested op's name). */
  names?: Record<string, RegExp>;
}

const T = TypeError;
const R = RangeError;

function refuse(label: string, value: unknown, expect: ErrorClass = R, names?: RegExp): Refused {
  return { label, value, expect, names };
}

function accept(label: string, value: unknown, why: string, check: (result: Any) => unknown = () => {}): Accepted {
  return { label, value, why, check };
}

/** The argument `name` of `a`: given whole, or assembled from its fields ("options.k" → options.k). */
function arg(a: Args, name: string): Any {
  if (Object.hasOwn(a, name)) return a[name];
  const prefix = `${name}.`;
  const fields = new Set(
    Object.keys(a).filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length).split(".")[0]),
  );
  if (fields.size === 0) return undefined;
  return Object.fromEntries([...fields].map((field) => [field, arg(a, prefix + field)]));
}

/** How a bad number is labelled in the table. */
function describe(v: number): string {
  if (v === 0) return "zero";
  if (Math.abs(v) >= 1e300) return "huge (1e300)";
  if (v < 0) return "negative";
  if (!Number.isInteger(v)) return "non-integer";
  return "out of range";
}

// ---------------------------------------------------------------------------------------------------------------
// Bad values, by the kind of argument they are given for.

/**
 * Null and undefined, refused where the argument is required. An optional field left null or undefined is absent
 * (`??` gives it its default, as everywhere in JavaScript), so it has no row; an options argument itself must be
 * an object or omitted.
 */
function missing(required: boolean): Case[] {
  return required ? [refuse("null", null, T), refuse("undefined", undefined, T)] : [];
}

/** Not a number at all. */
function notNumber(required = true): Case[] {
  return [refuse("a string", "1", T), refuse("an object", {}, T), refuse("a boolean", true, T), ...missing(required)];
}

const NON_FINITE = [refuse("NaN", NaN), refuse("Infinity", Infinity), refuse("-Infinity", -Infinity)];

/** An integer in [min, max]. */
function int(min: number, max = Infinity, options: { optional?: boolean } = {}): Case[] {
  const below = [...new Set([min - 1, 0, -1])].filter((v) => v < min);
  return [
    ...notNumber(!options.optional),
    ...NON_FINITE,
    refuse("huge (1e300)", 1e300),
    refuse("non-integer", min + 0.5),
    ...below.map((v) => refuse(v === 0 ? "zero" : v < 0 ? "negative" : "below the minimum", v)),
    ...(Number.isFinite(max) ? [refuse("above the maximum", max + 1)] : []),
  ];
}

/** A finite number: NaN and ±Infinity are refused, and so is each of `rejected` (labelled by what it is). */
function real(rejected: number[], options: { optional?: boolean } = {}): Case[] {
  return [...notNumber(!options.optional), ...NON_FINITE, ...rejected.map((v) => refuse(describe(v), v))];
}

/** A seed or generator state: any finite number, its low 32 bits used (documented), so only non-numbers fail. */
function seed(options: { optional?: boolean } = {}): Case[] {
  return [...notNumber(!options.optional), ...NON_FINITE];
}

/** One of `allowed`, a string. */
function choice(allowed: readonly string[], options: { optional?: boolean } = {}): Case[] {
  return [
    refuse("a prototype key", "toString"),
    refuse("__proto__", "__proto__"),
    refuse("an empty string", ""),
    refuse("an unknown name", "nope"),
    refuse("wrong case", allowed[0].toUpperCase()),
    refuse("a number", 3, T),
    ...missing(!options.optional),
  ];
}

/** An optional boolean. */
const BOOL = [refuse("a string", "yes", T), refuse("a number", 1, T), refuse("an object", {}, T)];

/** A function. */
const FUNCTION = [refuse("a string", "f", T), refuse("null", null, T), refuse("an object", {}, T)];

/** An options bag or another object argument. */
function object(options: { optional?: boolean } = {}): Case[] {
  return [
    refuse("null", null, T),
    refuse("a string", "x", T),
    refuse("a number", 3, T),
    ...(options.optional ? [] : [refuse("undefined", undefined, T)]),
  ];
}

/** A string, non-empty when `nonEmpty`. */
function string(options: { nonEmpty?: boolean; optional?: boolean } = {}): Case[] {
  return [
    refuse("a number", 3, T),
    refuse("an object", {}, T),
    ...(options.nonEmpty ? [refuse("an empty string", "")] : []),
    ...missing(!options.optional),
  ];
}

/** Array-likes of numbers: not array-like, then `good` with element 0 replaced by each bad element. */
function integers(good: readonly number[], min: number, max = Infinity, options: { optional?: boolean } = {}): Case[] {
  const at0 = (v: unknown) => [v, ...good.slice(1)];
  return [
    refuse("a number", 3, T),
    refuse("an object", {}, T),
    refuse("a string", "abc", T),
    ...missing(!options.optional),
    refuse("a NaN element", at0(NaN)),
    refuse("a non-integer element", at0(min + 0.5)),
    refuse("a negative element", at0(Math.min(min - 1, -1))),
    refuse("a string element", at0("1")),
    ...(Number.isFinite(max) ? [refuse("an element above the maximum", at0(max + 1))] : []),
  ];
}

type TypedArrayClass =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Uint8ArrayConstructor
  | Uint32ArrayConstructor;

/**
 * A typed array like `good` (its type, its length): refused as a string of that length, null or undefined (unless
 * optional), a plain array of its values, an array of each type in `others`, and one element short (unless `short`
 * is false); with `element`, also with element 0 replaced by that value (labelled).
 */
function typed(
  good: Float32Array | Uint8Array | Uint32Array,
  others: TypedArrayClass[] = [],
  options: { optional?: boolean; short?: boolean; element?: [label: string, value: number] } = {},
): Case[] {
  const Same = good.constructor as TypedArrayClass;
  const at0 = (v: number) => Object.assign(Same.from(good), { 0: v });
  return [
    refuse("a string", "1".repeat(good.length), T),
    ...missing(!options.optional),
    refuse("a plain array", Array.from(good), T),
    ...others.map((Other) => refuse(`a ${Other.name}`, new Other(good.length), T)),
    ...(options.short === false ? [] : [refuse("the wrong length", new Same(good.length - 1))]),
    ...(options.element ? [refuse(options.element[0], at0(options.element[1]))] : []),
  ];
}

/** A [low, high] range: refused as a string or one number, decreasing, `below` as its low end, a NaN or string end. */
function range(below: [label: string, low: number]): Case[] {
  return [
    refuse("a string", "1", T),
    refuse("one number", [1], T),
    refuse(below[0], [below[1], 1]),
    refuse("decreasing", [2, 1]),
    refuse("a NaN", [NaN, 1]),
    refuse("a string element", ["1", 1], T),
    refuse("huge", [1, 1e300]),
  ];
}

/** A random generator (an Rng). */
const RNG = [
  refuse("a string", "rng", T),
  refuse("null", null, T),
  refuse("undefined", undefined, T),
  refuse("an object", {}, T),
  refuse("a function", Math.random, T),
];

// ---------------------------------------------------------------------------------------------------------------
// GPU fixtures: two contexts, and live, destroyed and foreign tensors of each shape a door needs.

interface Fixtures {
  gpu: Gpu;
  /** A second context: its tensors must be refused by ops on the first. */
  other: Gpu;
  /** A live tensor of `gpu` (values (i mod 7) − 3 for f32, zeros otherwise), one per shape and dtype. */
  t(shape: number[], dtype?: "f32" | "u32" | "i32"): Tensor;
  /** A destroyed tensor of that shape and dtype. */
  dead(shape: number[], dtype?: "f32" | "u32" | "i32"): Tensor;
  /** A live tensor of that shape and dtype on `other`. */
  foreign(shape: number[], dtype?: "f32" | "u32" | "i32"): Tensor;
  /** Everything to free at the end. */
  owned: { destroy(): void }[];
  /** Buffers alive before the fixtures (the dummy binding included): what must be left at the end. */
  liveBefore: number;
  /** A temporary folder (files of the IDX and safetensors doors). */
  dir: string;
}

let fixtures: Promise<Fixtures> | null = null;

function getFixtures(): Promise<Fixtures> {
  fixtures ??= (async () => {
    const gpu = await testGpu();
    gpu.dummy; // created on first use and kept: counted before, so that the end can compare
    gpu.trimPool();
    const liveBefore = gpu.counters.liveBuffers;
    const other = await requestGpu();
    const cache = new Map<string, Tensor>();
    const owned: { destroy(): void }[] = [];
    const make = (kind: string, on: Gpu, shape: number[], dtype: "f32" | "u32" | "i32") => {
      const key = `${kind}:${dtype}:${shape.join("x")}`;
      let t = cache.get(key);
      if (!t) {
        const size = shape.reduce((a, b) => a * b, 1);
        const host = dtype === "f32"
          ? Float32Array.from({ length: size }, (_, i) => (i % 7) - 3)
          : dtype === "u32"
          ? new Uint32Array(size)
          : new Int32Array(size);
        t = Tensor.from(on, host, shape);
        if (kind === "dead") t.destroy();
        else owned.push(t);
        cache.set(key, t);
      }
      return t;
    };
    return {
      gpu,
      other,
      t: (shape, dtype = "f32") => make("live", gpu, shape, dtype),
      dead: (shape, dtype = "f32") => make("dead", gpu, shape, dtype),
      foreign: (shape, dtype = "f32") => make("foreign", other, shape, dtype),
      owned,
      liveBefore,
      dir: await Deno.makeTempDir({ prefix: "ncegpu-doors-" }),
    };
  })();
  return fixtures;
}

/** A GPU context argument. */
function gpuArg(f: Fixtures): Case[] {
  return [
    refuse("a string", "gpu", T),
    refuse("null", null, T),
    refuse("undefined", undefined, T),
    refuse("an object", {}, T),
    refuse("a GPUDevice", f.gpu.device, T),
  ];
}

/**
 * A tensor argument whose valid form is `shape` of `dtype` on f.gpu: refused when it is not a Tensor, destroyed,
 * of another Gpu, of another dtype (each otherwise valid), or of each shape in `wrong`.
 */
function tensorArg(
  f: Fixtures,
  shape: number[],
  dtype: "f32" | "u32" = "f32",
  wrong: number[][] = [],
  options: { optional?: boolean } = {},
): Case[] {
  return [
    refuse("a string", "x", T),
    refuse("an object", {}, T),
    refuse("a host array", new Float32Array(4), T),
    ...missing(!options.optional),
    refuse("a destroyed tensor", f.dead(shape, dtype), T),
    refuse("a tensor of another Gpu", f.foreign(shape, dtype), T),
    refuse("a tensor of another dtype", f.t(shape, dtype === "f32" ? "u32" : "f32"), T),
    ...wrong.map((s) => refuse(`a wrong shape [${s.join(", ")}]`, f.t(s, dtype))),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Running the table.

class Hung extends Error {}

const TIMEOUT_MS = 10_000;

async function settle(call: () => unknown): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Hung(`no answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
  });
  try {
    return { ok: true, value: await Promise.race([Promise.resolve().then(call), hang]) };
  } catch (error) {
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
}

const COUNTERS = ["buffersAllocated", "pipelinesCreated", "submits"] as const;

/** The counters that GPU work moves, on both contexts, with their pools emptied so that any acquire allocates. */
function snapshot(f: Fixtures): number[] {
  f.gpu.trimPool();
  f.other.trimPool();
  return [f.gpu, f.other].flatMap((g) => COUNTERS.map((c) => g.counters[c]));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

async function runDoor(f: Fixtures, door: Door): Promise<void> {
  const failures: string[] = [];
  const baseline = await settle(() => door.call(door.args()));
  if (!baseline.ok) failures.push(`valid arguments: threw ${String(baseline.error)}`);
  else {
    try {
      await door.good?.(baseline.value);
    } catch (error) {
      failures.push(`valid arguments: wrong result: ${(error as Error).message}`);
    }
    door.free?.(baseline.value);
  }
  for (const [name, cases] of Object.entries(door.bad)) {
    for (const c of cases) {
      const where = `${name} = ${c.label}`;
      const a = door.args();
      a[name] = c.value;
      const before = door.gpu ? snapshot(f) : [];
      const result = await settle(() => door.call(a));
      if (result.ok === false && result.error instanceof Hung) {
        failures.push(`${where}: hung (${result.error.message})`);
        continue;
      }
      if ("expect" in c) {
        if (result.ok) {
          failures.push(`${where}: accepted (returned ${String(result.value).slice(0, 60)})`);
          door.free?.(result.value);
          continue;
        }
        const error = result.error as Error;
        if (!(error instanceof c.expect)) {
          const thrown = error as { constructor?: { name?: string }; message?: string } | null;
          failures.push(`${where}: threw ${thrown?.constructor?.name} (not ${c.expect.name}): ${thrown?.message}`);
          continue;
        }
        const names = c.names ?? door.names?.[name] ?? new RegExp(` as ${escape(name)}[ .\\[(]`);
        if (!names.test(error.message)) failures.push(`${where}: the message does not name it: ${error.message}`);
        if (door.gpu) {
          const after = snapshot(f);
          if (after.join() !== before.join()) {
            failures.push(`${where}: did GPU work before throwing (${before.join(",")} → ${after.join(",")})`);
          }
        }
      } else {
        if (!result.ok) {
          failures.push(`${where}: threw, but it is accepted (${c.why}): ${String(result.error)}`);
          continue;
        }
        try {
          await c.check(result.value);
        } catch (error) {
          failures.push(`${where}: accepted (${c.why}), but the result is wrong: ${(error as Error).message}`);
        }
        door.free?.(result.value);
      }
    }
  }
  assert.equal(failures.length, 0, `${door.name}:\n  ${failures.join("\n  ")}`);
}

async function runDoors(t: Deno.TestContext, doors: (f: Fixtures) => Door[] | Promise<Door[]>): Promise<void> {
  const f = await getFixtures();
  for (const door of await doors(f)) await t.step(door.name, () => runDoor(f, door));
}

const destroy = (x: { destroy(): void }) => x.destroy();

async function readBack(t: Tensor): Promise<number[]> {
  return Array.from(await t.read());
}

// ---------------------------------------------------------------------------------------------------------------
// The GPU context and tensors.

function tensorDoors(f: Fixtures): Door[] {
  const shape = (
    bad: Case[] = [],
    huge = refuse("huge (1e300)", [1e300], OutOfMemoryError, /exceeds the device's/),
  ) => [
    refuse("a string", "2", T),
    refuse("null", null, T),
    refuse("a number", 2, T),
    refuse("undefined", undefined, T),
    refuse("a string dimension", ["2"], T),
    refuse("a negative dimension", [-1]),
    refuse("a non-integer dimension", [1.5]),
    refuse("a NaN dimension", [NaN]),
    refuse("an Infinity dimension", [Infinity]),
    // A shape that holds more than any buffer: the device's limit, before any GPU work.
    huge,
    ...bad,
  ];
  const dtype = choice(["f32", "u32", "i32"], { optional: true });
  const sizes = (t: Tensor, want: number[], dtypeWanted = "f32") => {
    assert.deepEqual([...t.shape], want);
    assert.equal(t.dtype, dtypeWanted);
  };
  const emptyShapes = (dtype = "f32") => [
    accept("a 0-d shape", [], "a 0-d tensor holds one element (the empty product)", (t) => sizes(t, [], dtype)),
    accept("an empty dimension", [0], "a tensor of no element is valid (its buffer is 4 bytes)", (t) => {
      sizes(t, [0], dtype);
    }),
  ];
  const live = f.t([256 + 8]);
  const filled = {
    f32: Tensor.empty(f.gpu, [2]),
    u32: Tensor.empty(f.gpu, [2], "u32"),
    written: Tensor.empty(f.gpu, [4]),
  };
  f.owned.push(filled.f32, filled.u32, filled.written);
  const fill = (a: Args) => {
    const t = a.tensor as Tensor;
    t.fill(a.value as number);
    return t;
  };
  return [
    {
      name: "requestGpu(options)",
      args: () => ({ "options.powerPreference": "high-performance" }),
      call: (a) => requestGpu(arg(a, "options")),
      good: (g: Gpu) => assert.ok(g.device),
      free: destroy,
      bad: {
        options: object({ optional: true }),
        "options.adapter": [
          refuse("a string", "x", T),
          refuse("an object", {}, T),
          refuse("a GPUDevice", f.gpu.device, T),
        ],
        // The WebIDL conversion names the field:
        "options.powerPreference": [
          refuse("an unknown name", "fastest", T, /powerPreference/),
          accept("low power", "low-power", "a valid GPUPowerPreference", (g: Gpu) => assert.ok(g.device)),
        ],
      },
    },
    {
      // Wraps the second context's device again: a Gpu of the same device, with counters of its own.
      name: "new Gpu(adapter, device)",
      gpu: true,
      args: () => ({ adapter: f.other.adapter, device: f.other.device }),
      call: (a) => new Gpu(a.adapter as GPUAdapter, a.device as GPUDevice),
      good: (g: Gpu) => assert.deepEqual([g.device, g.counters.buffersAllocated], [f.other.device, 0]),
      bad: {
        adapter: [...object(), refuse("an object", {}, T), refuse("a GPUDevice", f.gpu.device, T)],
        device: [...object(), refuse("an object", {}, T), refuse("a GPUAdapter", f.gpu.adapter, T)],
      },
    },
    {
      name: "Tensor.empty(gpu, shape, dtype)",
      gpu: true,
      args: () => ({ gpu: f.gpu, shape: [2, 3], dtype: "f32" }),
      call: (a) => Tensor.empty(a.gpu as Gpu, a.shape as number[], a.dtype as "f32"),
      good: (t) => sizes(t, [2, 3]),
      free: destroy,
      bad: { gpu: gpuArg(f), shape: [...shape(), ...emptyShapes()], dtype },
    },
    {
      name: "Tensor.zeros(gpu, shape, dtype)",
      gpu: true,
      args: () => ({ gpu: f.gpu, shape: [2, 3], dtype: "u32" }),
      call: (a) => Tensor.zeros(a.gpu as Gpu, a.shape as number[], a.dtype as "u32"),
      good: async (t) => assert.deepEqual(await readBack(t), [0, 0, 0, 0, 0, 0]),
      free: destroy,
      bad: { gpu: gpuArg(f), shape: [...shape(), ...emptyShapes("u32")], dtype },
    },
    {
      name: "Tensor.from(gpu, data, shape)",
      gpu: true,
      args: () => ({ gpu: f.gpu, data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] }),
      call: (a) => Tensor.from(a.gpu as Gpu, a.data as Float32Array, a.shape as number[]),
      good: async (t) => assert.deepEqual(await readBack(t), [1, 2, 3, 4, 5, 6]),
      free: destroy,
      bad: {
        gpu: gpuArg(f),
        data: [
          ...typed(new Float32Array([1, 2, 3, 4, 5, 6]), [Float64Array, Uint8Array]),
          accept("a Uint32Array", new Uint32Array(6), "its type sets the dtype (u32)", (t) => sizes(t, [2, 3], "u32")),
        ],
        // Data and shape disagree: the message names both.
        shape: shape(
          [refuse("another size", [3, 3], R, /data\.length must be the product of shape \[3, 3\]/)],
          refuse("huge (1e300)", [1e300], R, /data\.length must be the product of shape \[1e\+300\]/),
        ),
      },
    },
    {
      name: "tensor.view(start, shape)",
      gpu: true,
      args: () => ({ tensor: live, start: 0, shape: [2, 4] }),
      call: (a) => (a.tensor as Tensor).view(a.start as number, a.shape as number[]),
      good: (v) => sizes(v, [2, 4]),
      bad: {
        tensor: [refuse("a destroyed tensor", f.dead([256 + 8]), T)],
        start: [
          ...int(0),
          refuse("unaligned", 1),
          refuse("past the end", 256 + 8),
          accept(
            "an aligned offset",
            64,
            "64 floats are 256 bytes, the largest offset alignment",
            (v) => sizes(v, [2, 4]),
          ),
        ],
        shape: [
          refuse("a string", "2", T),
          refuse("null", null, T),
          refuse("a negative dimension", [-1]),
          refuse("a NaN dimension", [NaN]),
          refuse("empty", [0]),
          refuse("too large", [300]),
          refuse("huge (1e300)", [1e300]),
        ],
      },
    },
    {
      name: "tensor.write(data)",
      gpu: false, // a queue write is GPU work, but the refused rows must not reach it: checked by the result rows
      args: () => ({ tensor: filled.written, data: new Float32Array([1, 2, 3, 4]) }),
      call: (a) => (a.tensor as Tensor).write(a.data as Float32Array),
      bad: {
        tensor: [refuse("a destroyed tensor", f.dead([4]), T)],
        data: typed(new Float32Array([1, 2, 3, 4]), [Uint32Array, Float64Array]),
      },
    },
    {
      name: "tensor.read()",
      args: () => ({ tensor: f.t([4]) }),
      call: (a) => (a.tensor as Tensor).read(),
      good: (x) => assert.deepEqual(Array.from(x), [-3, -2, -1, 0]),
      bad: { tensor: [refuse("a destroyed tensor", f.dead([4]), T)] },
    },
    {
      name: "tensor.fill(value)",
      args: () => ({ tensor: filled.f32, value: 1 }),
      call: fill,
      good: async (t) => assert.deepEqual(await readBack(t), [1, 1]),
      bad: {
        tensor: [refuse("a destroyed tensor", f.dead([4]), T)],
        value: [
          ...notNumber(),
          refuse("huge (1e300)", 1e300), // a finite value no f32 holds would become Infinity
          accept("NaN", NaN, "NaN poisons outputs in tests: an f32 holds it", async (t) => {
            assert.ok((await readBack(t)).every(Number.isNaN));
          }),
          accept("-Infinity", -Infinity, "an f32 holds it", async (t) => {
            assert.deepEqual(await readBack(t), [-Infinity, -Infinity]);
          }),
        ],
      },
    },
    {
      name: "tensor.fill(value) on a u32 tensor",
      args: () => ({ tensor: filled.u32, value: 7 }),
      call: fill,
      good: async (t) => assert.deepEqual(await readBack(t), [7, 7]),
      bad: { value: [...int(0, 2 ** 32 - 1)] },
    },
    {
      name: "tensor.overlaps(other)",
      args: () => ({ tensor: live, other: live.view(64, [8]) }),
      call: (a) => (a.tensor as Tensor).overlaps(a.other as Tensor),
      good: (x) => assert.equal(x, true),
      bad: {
        other: [
          refuse("null", null, T),
          refuse("a string", "x", T),
          refuse("an object", {}, T),
          accept("a tensor of another Gpu", f.foreign([4]), "another device's buffer never overlaps", (x) => {
            assert.equal(x, false);
          }),
        ],
      },
    },
    {
      name: "timeGpu(gpu, encode, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, encode: () => {}, "options.iterations": 1, "options.warmup": 0 }),
      call: (a) => timeGpu(a.gpu as Gpu, a.encode as () => void, arg(a, "options")),
      good: (t) => assert.equal(t.samplesMs.length, 1),
      bad: {
        gpu: gpuArg(f),
        encode: FUNCTION,
        options: object({ optional: true }),
        "options.warmup": int(0, Infinity, { optional: true }),
        "options.iterations": int(1, Infinity, { optional: true }),
        "options.wallClock": [
          ...BOOL,
          accept("true", true, "the wall clock, forced", (t) => assert.equal(t.method, "wall")),
        ],
        "options.op": string({ nonEmpty: true, optional: true }),
      },
    },
  ];
}

Deno.test({
  name: "the GPU context and tensors refuse bad input by name, before any GPU work",
  ...gpuTest,
  fn: (t) => runDoors(t, tensorDoors),
});

// ---------------------------------------------------------------------------------------------------------------
// Kernels.

/** C = A·B on the host, from the fixtures' values. */
function hostMatmul(a: number[], b: number[], m: number, k: number, n: number): number[] {
  return Array.from({ length: m * n }, (_, i) => {
    let s = 0;
    for (let t = 0; t < k; t++) s += a[Math.floor(i / n) * k + t] * b[t * n + (i % n)];
    return s;
  });
}

const fixtureValues = (size: number) => Array.from({ length: size }, (_, i) => (i % 7) - 3);

/** The shape class of an nt multiply [3, 5]·[4, 5]ᵀ: the choice the matmul tuning doors set, then delete. */
const TUNED = "matmul:nt:4x4x8";

/** What a list of matmul variant names may not be (tuneMatmul, tuneMatmulShapes, tuneTrainer). */
const variantLists = [
  refuse("empty", []),
  refuse("a prototype key", ["toString"]),
  refuse("__proto__", ["__proto__"]),
  refuse("an unknown name", ["naive", "fastest"]),
  refuse("a string", "naive", T),
  refuse("a number", 3, T),
  refuse("an object", {}, T),
  refuse("a number element", [3], T),
];

function kernelDoors(f: Fixtures): Door[] {
  const own = (shape: number[], dtype: "f32" | "u32" = "f32") => {
    const t = Tensor.empty(f.gpu, shape, dtype);
    f.owned.push(t);
    return t;
  };
  const product = hostMatmul(fixtureValues(15), fixtureValues(20), 3, 5, 4);
  const variants = Object.keys(mod.MATMUL_VARIANTS);
  /** Lists of variant names (tuneMatmul and tuneMatmulShapes refuse the same). */
  // One multiply bound without a forced variant: what boundMatmuls lists (every other kernel door forces one).
  matmul(f.gpu, f.t([3, 5]), f.t([5, 4])).destroy();
  const bound = { form: "nn", m: 3, n: 4, k: 5, key: "matmul:nn:4x4x8" };
  /** A multiply to tune for, and the largest shape of its class. */
  const shape = { form: "nt", m: 3, n: 4, k: 5 };
  const larger = { form: "nt", m: 4, n: 3, k: 6 };
  const maxFloats = f.gpu.limits.maxStorageBufferBindingSize / 4;
  const adapter = matmulTuningRecord(f.gpu).adapter;
  const adapterField = (field: keyof typeof adapter): Case[] => [
    refuse("a number", 3, T),
    refuse("null", null, T),
    refuse("undefined", undefined, T),
    refuse("an object", {}, T),
    accept("another adapter's", `${adapter[field]} (another)`, "its timings say nothing here: nothing applied", (r) => {
      assert.deepEqual([r, f.gpu.tuning.has(TUNED)], [0, false]);
    }),
  ];
  const matmulBad = (kernel: boolean): Record<string, Case[]> => ({
    gpu: gpuArg(f),
    a: tensorArg(f, [3, 5], "f32", [[15], [3, 5, 1]]),
    b: [
      ...tensorArg(f, [5, 4], "f32", [[20]]),
      refuse("another K", f.t([6, 4]), R, / as b\.shape must be compatible with a\.shape \[3, 5\]/),
    ],
    options: object({ optional: true }),
    "options.form": choice(["nn", "nt", "tn"], { optional: true }),
    "options.variant": [
      ...choice(variants, { optional: true }),
      accept("another variant", "reg4x4", "every variant computes the same product", async (r) => {
        if (kernel) f.gpu.runPass("check", r);
        assert.deepEqual(await readBack(kernel ? r.out : r), product);
      }),
    ],
    "options.bias": tensorArg(f, [4], "f32", [[5]], { optional: true }),
    "options.out": tensorArg(f, [3, 4], "f32", [[4, 3], [12]], { optional: true }),
    "options.accumulate": [...BOOL, refuse("true without out", true, R, / as options\.out must be given/)],
  });
  const x = f.t([2, 3]);
  /** What activationForward and activationBackward refuse alike. */
  const activationArgs = { gpu: gpuArg(f), kind: choice(["relu", "gelu", "tanh"]), x: tensorArg(f, [2, 3]) };
  const h = f.t([2, 3]);
  const gathered = own([3, 6]);
  return [
    {
      name: "matmul(gpu, a, b, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, a: f.t([3, 5]), b: f.t([5, 4]), "options.variant": "naive" }),
      call: (a) => matmul(a.gpu as Gpu, a.a as Tensor, a.b as Tensor, arg(a, "options")),
      good: async (c) => assert.deepEqual(await readBack(c), product),
      free: destroy,
      bad: matmulBad(false),
    },
    {
      name: "new MatmulKernel(gpu, a, b, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, a: f.t([3, 5]), b: f.t([5, 4]), "options.variant": "naive" }),
      call: (a) => new MatmulKernel(a.gpu as Gpu, a.a as Tensor, a.b as Tensor, arg(a, "options")),
      good: (k) => assert.deepEqual([k.m, k.n, k.k], [3, 4, 5]),
      free: (k) => {
        k.out.destroy();
        k.destroy();
      },
      bad: matmulBad(true),
    },
    {
      name: "tuneMatmul(gpu, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, "options.size": 8, "options.iterations": 1, "options.variants": ["naive"] }),
      call: (a) => tuneMatmul(a.gpu as Gpu, arg(a, "options")),
      good: (trials) => assert.deepEqual(trials.map((t: { form: string }) => t.form), ["nn", "nt", "tn"]),
      free: () => f.gpu.tuning.clear(),
      bad: {
        gpu: gpuArg(f),
        options: object({ optional: true }),
        "options.size": int(1, Math.floor(Math.sqrt(f.gpu.limits.maxStorageBufferBindingSize / 4)), { optional: true }),
        "options.iterations": int(1, Infinity, { optional: true }),
        "options.variants": variantLists,
      },
    },
    {
      name: "matmulShapeClass(form, m, n, k)",
      args: () => ({ form: "tn", m: 784, n: 256, k: 300 }),
      call: (a) => matmulShapeClass(a.form as "tn", a.m as number, a.n as number, a.k as number),
      good: (key) => assert.equal(key, "matmul:tn:1024x256x512"),
      bad: {
        form: [
          ...choice(mod.MATMUL_FORMS),
          accept("another form", "nt", "each form is a class of its own", (key) => {
            assert.equal(key, "matmul:nt:1024x256x512");
          }),
        ],
        m: [...int(1), accept("one", 1, "1 = 2⁰ is its own class", (key) => assert.equal(key, "matmul:tn:1x256x512"))],
        n: [
          ...int(1),
          accept("one more than a power of two", 257, "rounded up", (key) => {
            assert.equal(key, "matmul:tn:1024x512x512");
          }),
        ],
        k: [
          ...int(1),
          accept("a power of two", 512, "kept as it is", (key) => assert.equal(key, "matmul:tn:1024x256x512")),
        ],
      },
    },
    {
      name: "matmulVariantFits(variant, form, m, n)",
      args: () => ({ variant: "vec16x32", form: "tn", m: 784, n: 256 }),
      call: (a) => matmulVariantFits(a.variant as string, a.form as "tn", a.m as number, a.n as number),
      good: (fits) => assert.equal(fits, true),
      bad: {
        variant: [
          ...choice(Object.keys(mod.MATMUL_VARIANTS)),
          accept("a scalar-load variant", "named16x32", "every scalar variant fits every shape", (fits) => {
            assert.equal(fits, true);
          }),
        ],
        form: [
          ...choice(mod.MATMUL_FORMS),
          accept(
            "nt",
            "nt",
            "the vec4 variants read B's rows, which nt transposes",
            (fits) => assert.equal(fits, false),
          ),
        ],
        m: [
          ...int(0),
          accept("not a multiple of 4", 783, "in tn, A's rows must be whole vec4s", (f) => assert.equal(f, false)),
        ],
        n: [
          ...int(0),
          accept("not a multiple of 4", 255, "B's rows must be whole vec4s", (f) => assert.equal(f, false)),
        ],
      },
    },
    {
      name: "boundMatmuls(gpu)",
      args: () => ({ gpu: f.gpu }),
      call: (a) => boundMatmuls(a.gpu as Gpu),
      good: (list) => {
        const entry = list.find((b: { key: string }) => b.key === bound.key);
        assert.deepEqual({ ...entry, variant: undefined }, { ...bound, variant: undefined });
        assert.ok(Object.hasOwn(mod.MATMUL_VARIANTS, entry.variant), `bound variant ${entry.variant}`);
        entry.variant = "changed";
        assert.notEqual(boundMatmuls(f.gpu).find((b) => b.key === bound.key)?.variant, "changed", "a copy");
      },
      bad: { gpu: gpuArg(f) },
    },
    {
      name: "tuneMatmulShapes(gpu, shapes, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, shapes: [shape], "options.iterations": 1, "options.variants": ["naive"] }),
      call: (a) => tuneMatmulShapes(a.gpu as Gpu, a.shapes as [], arg(a, "options")),
      good: async (trials) => {
        assert.deepEqual(trials.map((t: Any) => [t.key, t.variant, t.shape]), [[TUNED, "naive", [3, 4, 5]]]);
        assert.equal(f.gpu.tuning.get(TUNED), "naive");
        const again = await tuneMatmulShapes(f.gpu, [shape as Any], { iterations: 1, variants: ["naive"] });
        assert.deepEqual(again, [], "a class with a choice is skipped");
      },
      free: (trials) => trials.forEach((t: { key: string }) => f.gpu.tuning.delete(t.key)),
      bad: {
        gpu: gpuArg(f),
        shapes: [
          refuse("a string", "nt", T),
          refuse("null", null, T),
          refuse("undefined", undefined, T),
          refuse("one shape, not in an array", shape, T),
          refuse("a null shape", [null], T),
          refuse("a string shape", ["nt"], T),
          refuse("an unknown form", [{ ...shape, form: "nope" }]),
          refuse("a prototype form", [{ ...shape, form: "toString" }]),
          refuse("a form in the wrong case", [{ ...shape, form: "NT" }]),
          refuse("no form", [{ m: 3, n: 4, k: 5 }], T),
          refuse("a string dimension", [{ ...shape, k: "5" }], T),
          refuse("a NaN dimension", [{ ...shape, m: NaN }]),
          refuse("an Infinity dimension", [{ ...shape, n: Infinity }]),
          refuse("a zero dimension", [{ ...shape, n: 0 }]),
          refuse("a negative dimension", [{ ...shape, m: -1 }]),
          refuse("a non-integer dimension", [{ ...shape, k: 1.5 }]),
          refuse("a huge (1e300) dimension", [{ ...shape, k: 1e300 }]),
          refuse("a dimension past one binding", [{ ...shape, m: maxFloats + 1 }]),
          refuse("operands past one binding", [{ form: "nn", m: maxFloats, n: 1, k: 2 }]),
          refuse("a bad second shape", [shape, { ...shape, m: 0 }], R, / as shapes\[1\]\.m /),
          accept("none", [], "nothing to tune", (trials) => assert.deepEqual(trials, [])),
          accept(
            "two shapes of one class",
            [shape, larger],
            "a class is timed once, at its largest shape",
            (trials) => {
              assert.deepEqual(trials.map((t: Any) => [t.key, t.shape]), [[TUNED, [4, 3, 6]]]);
            },
          ),
          accept("boundMatmuls(gpu)", boundMatmuls(f.gpu), "the shapes a model binds", (trials) => {
            assert.ok(trials.some((t: { key: string }) => t.key === bound.key));
            for (const t of trials) assert.equal(f.gpu.tuning.get(t.key), "naive");
          }),
        ],
        options: object({ optional: true }),
        "options.iterations": int(1, Infinity, { optional: true }),
        "options.variants": [
          ...variantLists,
          accept("two variants", ["reg4x4", "naive"], "the faster is chosen", (trials) => {
            assert.deepEqual(trials.map((t: Any) => t.variant).sort(), ["naive", "reg4x4"]);
            assert.ok(trials[0].medianMs <= trials[1].medianMs, "fastest first");
            assert.equal(f.gpu.tuning.get(TUNED), trials[0].variant);
          }),
        ],
        "options.retune": [
          ...BOOL,
          accept("true", true, "a class is measured, chosen or not", (trials) => assert.equal(trials.length, 1)),
        ],
      },
    },
    {
      // Called with one choice in gpu.tuning (and one key of another op, which the record leaves out).
      name: "matmulTuningRecord(gpu)",
      args: () => ({ gpu: f.gpu }),
      call: (a) => {
        f.gpu.tuning.set(TUNED, "reg4x4").set("doors:not-matmul", "x");
        try {
          return matmulTuningRecord(a.gpu as Gpu);
        } finally {
          f.gpu.tuning.delete(TUNED);
          f.gpu.tuning.delete("doors:not-matmul");
        }
      },
      good: (record) => {
        const { vendor, architecture, device, description } = f.gpu.info;
        assert.deepEqual(record, {
          format: "ncegpu-matmul-tuning",
          version: 1,
          adapter: { vendor, architecture, device, description },
          choices: { [TUNED]: "reg4x4" },
        });
      },
      bad: {
        gpu: [
          ...gpuArg(f),
          accept(
            "another context",
            f.other,
            "each context keeps its own choices",
            (r) => assert.deepEqual(r.choices, {}),
          ),
        ],
      },
    },
    {
      name: "applyMatmulTuning(gpu, record)",
      args: () => ({
        gpu: f.gpu,
        "record.format": "ncegpu-matmul-tuning",
        "record.version": 1,
        "record.adapter.vendor": adapter.vendor,
        "record.adapter.architecture": adapter.architecture,
        "record.adapter.device": adapter.device,
        "record.adapter.description": adapter.description,
        "record.choices": { [TUNED]: "reg4x4" },
      }),
      call: (a) => applyMatmulTuning(a.gpu as Gpu, arg(a, "record")),
      good: (applied) => assert.deepEqual([applied, f.gpu.tuning.get(TUNED)], [1, "reg4x4"]),
      free: () => ["matmul:tn", TUNED].forEach((key) => f.gpu.tuning.delete(key)),
      bad: {
        gpu: gpuArg(f),
        record: object(),
        // A constant: anything else, of any type, is out of range.
        "record.format": [
          refuse("another format", "ncegpu-checkpoint"),
          refuse("wrong case", "NCEGPU-MATMUL-TUNING"),
          refuse("a prototype key", "toString"),
          refuse("a number", 3),
          refuse("undefined", undefined),
        ],
        "record.version": [
          refuse("another version", 2),
          refuse("a string", "1"),
          refuse("NaN", NaN),
          refuse("undefined", undefined),
        ],
        "record.adapter": object(),
        "record.adapter.vendor": adapterField("vendor"),
        "record.adapter.architecture": adapterField("architecture"),
        "record.adapter.device": adapterField("device"),
        "record.adapter.description": adapterField("description"),
        "record.choices": [
          ...object(),
          refuse("a key of another op", { "conv:nn": "naive" }),
          refuse("a key without a form", { matmul: "naive" }),
          refuse("an unknown form", { "matmul:nx": "naive" }),
          refuse("a shape class of two dimensions", { "matmul:nn:4x4": "naive" }),
          refuse("a __proto__ key", JSON.parse('{"__proto__": "naive"}')),
          refuse("a prototype variant", { [TUNED]: "toString" }),
          refuse("an unknown variant", { [TUNED]: "fastest" }),
          refuse("a number variant", { [TUNED]: 3 }, T),
          refuse("a null variant", { [TUNED]: null }, T),
          refuse("a good choice and a bad one", { "matmul:tn": "reg4x4", [TUNED]: "fastest" }),
          accept("none", {}, "nothing to apply", (r) => assert.equal(r, 0)),
          accept("a choice for a form", { "matmul:tn": "reg4x4" }, "for the form's classes without their own", (r) => {
            assert.deepEqual([r, f.gpu.tuning.get("matmul:tn")], [1, "reg4x4"]);
          }),
        ],
      },
    },
    {
      name: "activationForward(gpu, kind, x, y)",
      gpu: true,
      args: () => ({ gpu: f.gpu, kind: "relu", x, y: own([2, 3]) }),
      call: (a) => activationForward(a.gpu as Gpu, a.kind as "relu", a.x as Tensor, a.y as Tensor),
      good: destroy,
      free: destroy,
      bad: {
        ...activationArgs,
        y: [
          ...tensorArg(f, [2, 3], "f32", [[3, 3], [5]]),
          accept("another shape of the same size", own([6]), "elementwise: only the size must match", destroy),
        ],
      },
    },
    {
      name: "activationBackward(gpu, kind, x, dY, dX)",
      gpu: true,
      args: () => ({ gpu: f.gpu, kind: "gelu", x, dY: f.t([2, 3]), dX: own([2, 3]) }),
      call: (a) => activationBackward(a.gpu as Gpu, a.kind as "gelu", a.x as Tensor, a.dY as Tensor, a.dX as Tensor),
      good: destroy,
      free: destroy,
      bad: {
        ...activationArgs,
        dY: tensorArg(f, [2, 3], "f32", [[3, 3]]),
        dX: tensorArg(f, [2, 3], "f32", [[3, 3]]),
      },
    },
    {
      name: "l2normForward(gpu, h, z, norms)",
      gpu: true,
      args: () => ({ gpu: f.gpu, h, z: own([2, 3]), norms: own([2]) }),
      call: (a) => l2normForward(a.gpu as Gpu, a.h as Tensor, a.z as Tensor, a.norms as Tensor),
      good: destroy,
      free: destroy,
      bad: {
        gpu: gpuArg(f),
        h: tensorArg(f, [2, 3], "f32", [[6], [1, 2, 3]]),
        z: tensorArg(f, [2, 3], "f32", [[2, 2]]),
        norms: tensorArg(f, [2], "f32", [[3]]),
      },
    },
    {
      name: "transposeKernel(gpu, source, out)",
      gpu: true,
      args: () => ({ gpu: f.gpu, source: h, out: own([3, 2]) }),
      call: (a) => transposeKernel(a.gpu as Gpu, a.source as Tensor, a.out as Tensor),
      good: destroy,
      free: destroy,
      bad: {
        gpu: gpuArg(f),
        source: tensorArg(f, [2, 3], "f32", [[6]]),
        out: tensorArg(f, [3, 2], "f32", [[2, 3], [6]]),
      },
    },
    {
      name: "columnSums(gpu, x, out, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, x: h, out: own([3]) }),
      call: (a) => columnSums(a.gpu as Gpu, a.x as Tensor, a.out as Tensor, arg(a, "options")),
      good: destroy,
      free: destroy,
      bad: {
        gpu: gpuArg(f),
        x: tensorArg(f, [2, 3], "f32", [[6]]),
        out: tensorArg(f, [3], "f32", [[2], [4]]),
        options: object({ optional: true }),
        "options.accumulate": BOOL,
      },
    },
    {
      name: "l2normBackward(gpu, z, norms, dZ, dH)",
      gpu: true,
      args: () => ({ gpu: f.gpu, z: h, norms: f.t([2]), dZ: f.t([2, 3]), dH: own([2, 3]) }),
      call: (a) => l2normBackward(a.gpu as Gpu, a.z as Tensor, a.norms as Tensor, a.dZ as Tensor, a.dH as Tensor),
      good: destroy,
      free: destroy,
      bad: {
        gpu: gpuArg(f),
        z: tensorArg(f, [2, 3], "f32", [[6]]),
        norms: tensorArg(f, [2], "f32", [[3]]),
        dZ: tensorArg(f, [2, 3], "f32", [[2, 2]]),
        dH: tensorArg(f, [2, 3], "f32", [[2, 2]]),
      },
    },
    {
      name: "gatherBytes(gpu, data, layout, ids, out, options)",
      gpu: true,
      args: () => ({
        gpu: f.gpu,
        data: f.t([4], "u32"),
        "layout.rows": 2,
        "layout.width": 6,
        "layout.imageShape": [2, 3],
        ids: f.t([3], "u32"),
        out: gathered,
      }),
      call: (a) =>
        gatherBytes(
          a.gpu as Gpu,
          a.data as Tensor,
          arg(a, "layout"),
          a.ids as Tensor,
          a.out as Tensor,
          arg(a, "options"),
        ),
      good: async (k) => {
        f.gpu.runPass("good", k);
        assert.deepEqual(await readBack(gathered), new Array(18).fill(0)); // zero bytes, scaled
        k.destroy();
      },
      free: destroy,
      bad: {
        gpu: gpuArg(f),
        data: tensorArg(f, [4], "u32", [[5]]),
        layout: object(),
        "layout.rows": int(1),
        "layout.width": int(1),
        "layout.imageShape": [
          refuse("a string", "2x3", T),
          refuse("one dimension", [6]),
          refuse("a zero dimension", [0, 6]),
          refuse("a non-integer dimension", [1.5, 4]),
          refuse("another product", [3, 3]),
        ],
        ids: tensorArg(f, [3], "u32"),
        out: tensorArg(f, [3, 6], "f32", [[2, 6]]),
        options: object({ optional: true }),
        "options.scale": real([1e300], { optional: true }),
        "options.shift": real([1e300], { optional: true }),
        "options.warps": tensorArg(f, [3, 12], "f32", [[2, 12]], { optional: true }),
      },
    },
    {
      name: "packBytes(bytes, rows, width)",
      args: () => ({ bytes: new Uint8Array([1, 2, 3, 4, 5, 6]), rows: 2, width: 3 }),
      call: (a) => packBytes(a.bytes as Uint8Array, a.rows as number, a.width as number),
      good: (w) => assert.deepEqual(Array.from(w), [0x030201, 0x060504]),
      bad: {
        bytes: typed(new Uint8Array([1, 2, 3, 4, 5, 6]), [Uint32Array]),
        rows: int(1),
        width: int(1),
      },
    },
    {
      name: "wordsPerRow(width)",
      args: () => ({ width: 5 }),
      call: (a) => wordsPerRow(a.width as number),
      good: (w) => assert.equal(w, 2),
      bad: { width: int(1) },
    },
  ];
}

Deno.test({
  name: "the kernels refuse bad input by name, before any GPU work",
  ...gpuTest,
  fn: (t) => runDoors(t, kernelDoors),
});

// ---------------------------------------------------------------------------------------------------------------
// Losses.

function lossDoors(f: Fixtures): Door[] {
  const idx = [0, 1, 2, 1, 2, 3, 2, 3, 4, 3, 4, 5]; // [4, 1 + 2]: row i's positive i, negatives i + 1, i + 2
  const sampled = () => new SampledContrastiveLoss(f.gpu, f.t([4, 8]), f.t([6, 8]), { kMax: 2, indices: idx });
  const live = sampled();
  const dead = sampled();
  dead.destroy();
  const liveNtXent = new NtXentLoss(f.gpu, f.t([4, 8]));
  const deadNtXent = new NtXentLoss(f.gpu, f.t([4, 8]));
  deadNtXent.destroy();
  const liveSupCon = new SupConLoss(f.gpu, f.t([4, 8]), { labels: [0, 1, 0, 1] });
  const deadSupCon = new SupConLoss(f.gpu, f.t([4, 8]));
  deadSupCon.destroy();
  const unlabelledSupCon = new SupConLoss(f.gpu, f.t([4, 8]));
  f.owned.push(live, liveNtXent, liveSupCon, unlabelledSupCon);
  const weighting = [
    refuse("a number", 3, T),
    refuse("a prototype key", "toString"),
    refuse("__proto__", "__proto__"),
    refuse("an unknown name", "nce"),
    refuse("an object without kind", {}, T),
    refuse("a prototype kind", { kind: "constructor" }),
    refuse("a NaN parameter", { kind: "adnce", mu: NaN }),
    refuse("a string parameter", { kind: "hcl", beta: "1" }, T),
    accept("another weighting", { kind: "dcl", tauPlus: 0.2 }, "DCL is one of the weightings", destroy),
  ];
  const tau = real([0, -1, 1e300, 1e-300], { optional: true });
  /** What NtXentLoss and SupConLoss refuse alike: gpu, z (refused in each shape of `wrong`), options, τ. */
  const inBatchArgs = (wrong: number[][]) => ({
    gpu: gpuArg(f),
    z: tensorArg(f, [4, 8], "f32", wrong),
    options: object({ optional: true }),
    "options.tau": tau,
  });
  const finite = async (loss: SampledContrastiveLoss | NtXentLoss | SupConLoss) => {
    loss.run();
    const r = await loss.readReadouts();
    assert.ok(Number.isFinite(r.meanLoss), `mean loss ${r.meanLoss}`);
  };
  return [
    {
      name: "new SampledContrastiveLoss(gpu, q, c, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, q: f.t([4, 8]), c: f.t([6, 8]), "options.kMax": 2, "options.indices": idx }),
      call: (a) => new SampledContrastiveLoss(a.gpu as Gpu, a.q as Tensor, a.c as Tensor, arg(a, "options")),
      good: finite,
      free: destroy,
      bad: {
        gpu: gpuArg(f),
        q: tensorArg(f, [4, 8], "f32", [[32], [0, 8], [4, 8, 1]]),
        c: tensorArg(f, [6, 8], "f32", [[48], [6, 7]]),
        options: object(),
        "options.kMax": int(1, 65535),
        "options.k": int(1, 2, { optional: true }),
        "options.tau": tau,
        "options.weighting": weighting,
        "options.indices": [...integers(idx, 0, 5, { optional: true }), refuse("the wrong length", [0, 1])],
        "options.vectorized": BOOL,
      },
    },
    {
      name: "sampledLoss.setK(k)",
      args: () => ({ "the loss": live, k: 1 }),
      call: (a) => (a["the loss"] as SampledContrastiveLoss).setK(a.k as number),
      good: () => assert.equal(live.k, 1),
      bad: { "the loss": [refuse("destroyed", dead, T)], k: int(1, 2) },
    },
    {
      name: "sampledLoss.setIndices(indices)",
      args: () => ({ "the loss": live, indices: idx }),
      call: (a) => (a["the loss"] as SampledContrastiveLoss).setIndices(a.indices as number[]),
      bad: {
        "the loss": [refuse("destroyed", dead, T)],
        indices: [...integers(idx, 0, 5), refuse("the wrong length", [0, 1])],
      },
    },
    {
      name: "sampledLoss.run()",
      gpu: true,
      args: () => ({ "the loss": live }),
      call: (a) => (a["the loss"] as SampledContrastiveLoss).run(),
      bad: { "the loss": [refuse("destroyed", dead, T)] },
    },
    {
      name: "sampledLoss.readReadouts()",
      args: () => ({ "the loss": live }),
      call: (a) => (a["the loss"] as SampledContrastiveLoss).readReadouts(),
      good: (r) => assert.equal(r.rows, 4),
      bad: { "the loss": [refuse("destroyed", dead, T)] },
    },
    {
      name: "new NtXentLoss(gpu, z, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, z: f.t([4, 8]) }),
      call: (a) => new NtXentLoss(a.gpu as Gpu, a.z as Tensor, arg(a, "options")),
      good: finite,
      free: destroy,
      bad: {
        ...inBatchArgs([[32], [5, 8], [2, 8]]),
        "options.tile": [
          ...int(64, Math.floor(Math.sqrt(f.gpu.limits.maxStorageBufferBindingSize / 4 / 64 ** 2)) * 64, {
            optional: true,
          }),
          refuse("not a multiple of 64", 100),
          accept("one tile", 64, "a tile larger than 2B is one tile", finite),
        ],
        "options.weighting": weighting,
      },
    },
    {
      name: "ntXentLoss.run()",
      gpu: true,
      args: () => ({ "the loss": liveNtXent }),
      call: (a) => (a["the loss"] as NtXentLoss).run(),
      bad: { "the loss": [refuse("destroyed", deadNtXent, T)] },
    },
    {
      name: "new SupConLoss(gpu, z, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, z: f.t([4, 8]), "options.labels": [0, 1, 0, 1] }),
      call: (a) => new SupConLoss(a.gpu as Gpu, a.z as Tensor, arg(a, "options")),
      good: finite,
      free: destroy,
      bad: {
        ...inBatchArgs([[32], [1, 8], [0, 8]]),
        "options.tile": [...int(64, Infinity, { optional: true }), refuse("not a multiple of 64", 100)],
        "options.weighting": [
          ...weighting.filter((c) => "expect" in c && c.label !== "a string parameter"),
          refuse("a string parameter", { kind: "adnce", mu: "0.7" }, T),
          refuse("DCL (one positive only)", "dcl"),
          refuse("HCL (one positive only)", { kind: "hcl", beta: 1 }),
          accept("ADNCE", { kind: "adnce", mu: 0.7, sigma: 0.5 }, "ADNCE weights the negatives only", finite),
        ],
        "options.labels": [
          ...integers([0, 1, 0, 1], 0, 2 ** 32 - 1, { optional: true }),
          refuse("the wrong length", [0, 1]),
          accept("no positive at all", [0, 1, 2, 3], "no anchor has a term: the loss is 0", async (loss) => {
            loss.run();
            assert.deepEqual(Object.values(await loss.readReadouts()).slice(0, 1), [0]);
          }),
        ],
      },
    },
    {
      name: "supConLoss.setLabels(labels)",
      args: () => ({ "the loss": liveSupCon, labels: [0, 0, 1, 1] }),
      call: (a) => (a["the loss"] as SupConLoss).setLabels(a.labels as number[]),
      good: () => assert.equal(liveSupCon.anchors, 4),
      bad: {
        "the loss": [refuse("destroyed", deadSupCon, T)],
        labels: [...integers([0, 0, 1, 1], 0, 2 ** 32 - 1), refuse("the wrong length", [0, 1])],
      },
    },
    {
      name: "supConLoss.run() before any labels",
      gpu: true,
      args: () => ({ "the loss": liveSupCon }),
      call: (a) => (a["the loss"] as SupConLoss).run(),
      bad: {
        "the loss": [
          refuse("destroyed", deadSupCon, T),
          refuse("without labels", unlabelledSupCon, R, / as labels must be set/),
        ],
      },
    },
    {
      name: "new ContrastiveLoss(…) (abstract)",
      gpu: true,
      args: () => ({
        "the class": class extends ContrastiveLoss {
          encode() {}
        },
      }),
      call: (a) =>
        new (a["the class"] as Any)(f.gpu, "probe", {
          rows: 2,
          k: 1,
          kMax: 1,
          dim: 2,
          candidates: 2,
          inBatch: false,
          debias: false,
          invTau: 1,
          beta: 0,
          mu: 0,
          invTwoSigma2: 0,
          tauPlus: 0,
          gradScale: 0.5,
        }),
      free: destroy,
      bad: { "the class": [refuse("ContrastiveLoss itself", ContrastiveLoss, T)] },
    },
  ];
}

Deno.test({
  name: "the contrastive losses refuse bad input by name, before any GPU work, and refuse use after destroy",
  ...gpuTest,
  fn: (t) => runDoors(t, lossDoors),
});

// ---------------------------------------------------------------------------------------------------------------
// Parameters, layers, optimizers.

function layerDoors(f: Fixtures): Door[] {
  const own = (shape: number[]) => {
    const t = Tensor.empty(f.gpu, shape);
    f.owned.push(t);
    return t;
  };
  // One built store (a linear layer, an embedding bag, a small MLP), and stores that are not built, destroyed, or
  // on the other Gpu, each with a layer of the same names.
  const model = (gpu: Gpu, build: boolean) => {
    const store = new ParameterStore(gpu, { seed: 1 });
    const parts = {
      store,
      lin: new Linear(store, "lin", 3, 2),
      emb: new EmbeddingBag(store, "emb", 5, 2),
      enc: mlp(store, [4, 3], { name: "enc" }),
    };
    if (build) store.build();
    return parts;
  };
  const built = model(f.gpu, true);
  const unbuilt = model(f.gpu, false);
  const destroyed = model(f.gpu, true);
  destroyed.store.destroy();
  const foreign = model(f.other, true);
  f.owned.push(built.store, foreign.store);
  const freshStore = () => {
    const store = new ParameterStore(f.gpu);
    store.add("taken", [1], "zeros");
    store.add("taken.weight", [1], "zeros"); // what a layer named "taken" would declare
    return store;
  };
  const storeArg = [
    refuse("a string", "store", T),
    refuse("null", null, T),
    refuse("an object", {}, T),
    refuse("undefined", undefined, T),
    refuse("built already", built.store),
  ];
  const dims = [
    refuse("a string", "4,3", T),
    refuse("null", null, T),
    refuse("undefined", undefined, T),
    refuse("one width", [4]),
    refuse("a zero width", [4, 0]),
    refuse("a NaN width", [4, NaN]),
    refuse("a non-integer width", [4, 1.5]),
    refuse("a huge width", [4, 1e300]),
    refuse("a string width", [4, "3"], T),
  ];
  const ACT = ["relu", "gelu", "tanh"];
  const INIT = ["kaiming", "xavier", "zeros"];
  const notBuilt = / as build\(\) must be called before parameters are used/;
  const storeDestroyed = / as the store must be live/;
  /** A part (the store, or a layer of it) of a store not built, and of a destroyed store. */
  const unusable = (part: "store" | "lin" | "emb" | "enc") => [
    refuse("a store not built", unbuilt[part], R, notBuilt),
    refuse("a destroyed store", destroyed[part], T, storeDestroyed),
  ];
  /** `who`.bind(gpu, input) of the built layer `part`: input [rows, in] to output [rows, out]. */
  const bindDoor = (
    name: string,
    who: string,
    part: "lin" | "enc",
    input: number[],
    output: number[],
    wrong: number[][],
  ): Door => ({
    name,
    gpu: true,
    args: () => ({ [who]: built[part], gpu: f.gpu, input: f.t(input) }),
    call: (a) => (a[who] as Linear | Sequential).bind(a.gpu as Gpu, a.input as Tensor),
    good: (b) => assert.deepEqual([...b.output.shape], output),
    free: destroy,
    bad: { [who]: unusable(part), gpu: bindGpu, input: tensorArg(f, input, "f32", wrong) },
  });
  /** Linear and EmbeddingBag: a store, a new name, two sizes and an init, checked alike. */
  const sizedLayer = (
    name: string,
    make: (store: ParameterStore, name: string, a: number, b: number, init: "xavier") => unknown,
    sizes: Record<string, number>,
    good: (layer: Any) => unknown,
  ): Door => {
    const [first, second] = Object.keys(sizes);
    return {
      name,
      args: () => ({ store: freshStore(), name: "l", ...sizes, init: "kaiming" }),
      call: (a) =>
        make(a.store as ParameterStore, a.name as string, a[first] as number, a[second] as number, a.init as "xavier"),
      good,
      bad: {
        store: storeArg,
        name: [...string({ nonEmpty: true }), refuse("taken", "taken", R, / as name must be unique/)],
        [first]: int(1),
        [second]: int(1),
        init: choice(INIT, { optional: true }),
      },
    };
  };
  const bindGpu = [
    ...gpuArg(f),
    refuse("another Gpu", f.other, T, / as gpu must be the Gpu of the layer's ParameterStore/),
  ];
  const relu = new ActivationLayer("relu");
  const l2 = new L2Normalize();
  const boundLin = built.lin.bind(f.gpu, f.t([4, 3]));
  const boundRelu = relu.bind(f.gpu, f.t([2, 3]));
  const boundL2 = l2.bind(f.gpu, f.t([2, 3]));
  const boundNet = built.enc.bind(f.gpu, f.t([2, 4]));
  const boundBag = built.emb.bind(f.gpu, { bags: 2, maxIds: 3 });
  const adam = new Optimizer(f.gpu, built.store, { kind: "adam", lr: 0.01 });
  const deadAdam = new Optimizer(f.gpu, built.store, { kind: "adam", lr: 0.01 });
  deadAdam.destroy();
  f.owned.push(boundLin, boundRelu, boundL2, boundNet, boundBag, adam);
  const backward = (
    name: string,
    bound: { bindBackward(d: Tensor, i: Tensor | null): unknown },
    out: number[],
    input: number[],
    wrong: number[][],
  ): Door => ({
    name,
    gpu: true,
    args: () => ({ dOutput: f.t(out), dInput: own(input) }),
    call: (a) => bound.bindBackward(a.dOutput as Tensor, a.dInput as Tensor | null),
    free: destroy,
    bad: {
      dOutput: tensorArg(f, out, "f32", [wrong[0]]),
      dInput: [
        ...tensorArg(f, input, "f32", [wrong[1]], { optional: true }),
        accept("null", null, "the input's gradient is not needed"),
      ],
    },
  });
  return [
    {
      name: "new ParameterStore(gpu, options)",
      args: () => ({ gpu: f.gpu, "options.seed": 3 }),
      call: (a) => new ParameterStore(a.gpu as Gpu, arg(a, "options")),
      good: (s) => assert.equal(s.seed, 3),
      bad: {
        gpu: gpuArg(f),
        options: object({ optional: true }),
        "options.seed": [
          ...seed({ optional: true }),
          accept("negative", -1, "a seed's low 32 bits are used (documented)", (s) => assert.equal(s.seed, -1)),
          accept("non-integer", 1.5, "a seed's low 32 bits are used (documented)"),
          accept("huge (1e300)", 1e300, "a seed's low 32 bits are used (documented)"),
        ],
      },
    },
    {
      name: "store.add(name, shape, init, fan)",
      args: () => ({ store: freshStore(), name: "w", shape: [3, 2], init: "xavier" }),
      call: (a) =>
        (a.store as ParameterStore).add(a.name as string, a.shape as number[], a.init as "xavier", a.fan as [1, 1]),
      good: (slot) => assert.deepEqual([slot.size, slot.fan], [6, [3, 2]]),
      bad: {
        store: [refuse("built already", built.store, R, / as name must be declared before build\(\)/)],
        name: [...string({ nonEmpty: true }), refuse("taken", "taken")],
        shape: [
          refuse("a string", "3", T),
          refuse("null", null, T),
          refuse("undefined", undefined, T),
          refuse("empty (no fan to initialise from)", []),
          refuse("a zero dimension", [0, 2]),
          refuse("a NaN dimension", [NaN, 2]),
          refuse("a non-integer dimension", [1.5, 2]),
          refuse("a negative dimension", [-3, 2]),
          refuse("a huge dimension", [1e300, 2]),
          refuse("a string dimension", ["3", 2], T),
        ],
        init: choice(INIT),
        fan: [
          refuse("a string", "3x2", T),
          refuse("one number", [3], T),
          refuse("a zero", [0, 2]),
          refuse("a NaN", [NaN, 2]),
          refuse("a non-integer", [1.5, 2]),
          refuse("a string element", ["3", 2], T),
          accept(
            "given",
            [5, 7],
            "fans other than the shape's (a reshaped weight)",
            (s) => assert.deepEqual(s.fan, [5, 7]),
          ),
        ],
      },
    },
    ...(["param", "grad"] as const).map((method): Door => ({
      name: `store.${method}(name, shape)`,
      args: () => ({ store: built.store, name: "lin.weight" }),
      call: (a) => (a.store as ParameterStore)[method](a.name as string, a.shape as number[]),
      good: (v) => assert.deepEqual([...v.shape], [3, 2]),
      bad: {
        store: unusable("store"),
        name: [...string(), refuse("unknown", "nope"), refuse("a prototype key", "toString")],
        shape: [
          refuse("another size (it would spill into the next parameter)", [7]),
          refuse("a smaller size", [2]),
          refuse("a string", "6", T),
          refuse("a negative dimension", [-6]),
          refuse("a NaN dimension", [NaN]),
          accept(
            "a reshape of the same size",
            [6],
            "a reshape reads the same six elements",
            (v) => assert.equal(v.size, 6),
          ),
        ],
      },
    })),
    {
      name: "store.slot(name)",
      args: () => ({ store: built.store, name: "lin.bias" }),
      call: (a) => (a.store as ParameterStore).slot(a.name as string),
      good: (s) => assert.equal(s.size, 2),
      bad: { name: [...string(), refuse("unknown", "nope"), refuse("a prototype key", "toString")] },
    },
    {
      name: "store.zeroGrads(encoder)",
      args: () => ({ store: built.store, encoder: f.gpu.device.createCommandEncoder() }),
      call: (a) => (a.store as ParameterStore).zeroGrads(a.encoder as GPUCommandEncoder),
      bad: {
        store: unusable("store"),
        encoder: [
          refuse("a string", "x", T),
          refuse("null", null, T),
          refuse("an object", {}, T),
          refuse("a GPUDevice", f.gpu.device, T),
        ],
      },
    },
    sizedLayer(
      "new Linear(store, name, inDim, outDim, init)",
      (...a) => new Linear(...a),
      { inDim: 3, outDim: 2 },
      (l) => assert.equal(l.outputDim(3), 2),
    ),
    bindDoor("linear.bind(gpu, input)", "the layer", "lin", [4, 3], [4, 2], [[4, 2], [12]]),
    backward("boundLinear.bindBackward(dOutput, dInput)", boundLin, [4, 2], [4, 3], [[4, 3], [4, 2]]),
    {
      name: "new ActivationLayer(kind)",
      args: () => ({ kind: "gelu" }),
      call: (a) => new ActivationLayer(a.kind as "gelu"),
      good: (l) => assert.equal(l.kind, "gelu"),
      bad: { kind: choice(ACT) },
    },
    {
      name: "activationLayer.bind(gpu, input)",
      gpu: true,
      args: () => ({ gpu: f.gpu, input: f.t([2, 3]) }),
      call: (a) => relu.bind(a.gpu as Gpu, a.input as Tensor),
      free: destroy,
      bad: { gpu: gpuArg(f), input: tensorArg(f, [2, 3]) },
    },
    backward("boundActivation.bindBackward(dOutput, dInput)", boundRelu, [2, 3], [2, 3], [[3, 3], [3, 3]]),
    {
      name: "new L2Normalize().bind(gpu, input)",
      gpu: true,
      args: () => ({ gpu: f.gpu, input: f.t([2, 3]) }),
      call: (a) => l2.bind(a.gpu as Gpu, a.input as Tensor),
      free: destroy,
      bad: { gpu: gpuArg(f), input: tensorArg(f, [2, 3], "f32", [[6], [1, 2, 3]]) },
    },
    backward("boundL2Normalize.bindBackward(dOutput, dInput)", boundL2, [2, 3], [2, 3], [[3, 3], [3, 3]]),
    {
      name: "new Sequential(layers, name)",
      args: () => ({ layers: [relu], name: "s" }),
      call: (a) => new Sequential(a.layers as ActivationLayer[], a.name as string),
      good: (s) => assert.equal(s.outputDim(5), 5),
      bad: {
        layers: [
          refuse("a string", "relu", T),
          refuse("null", null, T),
          refuse("undefined", undefined, T),
          refuse("a null layer", [null], T),
          refuse("an object that is not a layer", [{}], T),
          accept("no layer", [], "an empty network is the identity", (s) => assert.equal(s.outputDim(5), 5)),
        ],
        name: string({ nonEmpty: true, optional: true }),
      },
    },
    bindDoor("sequential.bind(gpu, input)", "the network", "enc", [2, 4], [2, 3], [[2, 3], [8]]),
    backward("boundNetwork.bindBackward(dOutput, dInput)", boundNet, [2, 3], [2, 4], [[2, 4], [2, 3]]),
    ...(["mlp", "twoTower"] as const).map((which): Door => ({
      name: `${which}(store, dims, options)`,
      args: () => ({ store: freshStore(), dims: [4, 3, 2] }),
      call: (a) =>
        which === "mlp"
          ? mlp(a.store as ParameterStore, a.dims as number[], arg(a, "options"))
          : twoTower(a.store as ParameterStore, a.dims as number[], arg(a, "options")),
      good: (net) => assert.equal((which === "mlp" ? net : net.query).outputDim(4), 2),
      bad: {
        store: storeArg,
        dims,
        options: object({ optional: true }),
        "options.activation": choice(ACT, { optional: true }),
        "options.normalize": BOOL,
        ...(which === "mlp"
          ? { "options.name": string({ nonEmpty: true, optional: true }) }
          : { "options.shared": BOOL }),
      },
    })),
    sizedLayer(
      "new EmbeddingBag(store, name, vocab, dim, init)",
      (...a) => new EmbeddingBag(...a),
      { vocab: 5, dim: 2 },
      (e) => assert.equal(e.vocab, 5),
    ),
    {
      name: "embeddingBag.bind(gpu, shape)",
      gpu: true,
      args: () => ({ "the layer": built.emb, gpu: f.gpu, "shape.bags": 2, "shape.maxIds": 3 }),
      call: (a) => (a["the layer"] as EmbeddingBag).bind(a.gpu as Gpu, arg(a, "shape")),
      good: (b) => assert.deepEqual([...b.output.shape], [2, 2]),
      free: destroy,
      bad: {
        "the layer": unusable("emb"),
        gpu: bindGpu,
        shape: object(),
        "shape.bags": int(1),
        "shape.maxIds": int(1),
      },
    },
    {
      name: "boundEmbedding.setBags(offsets, ids)",
      args: () => ({ offsets: [0, 1, 3], ids: [2, 0, 2] }),
      call: (a) => boundBag.setBags(a.offsets as number[], a.ids as number[]),
      bad: {
        offsets: [
          refuse("a string", "013", T),
          refuse("null", null, T),
          refuse("undefined", undefined, T),
          refuse("an object", {}, T),
          refuse("the wrong length", [0, 1]),
          refuse("not from 0", [1, 1, 3]),
          refuse("decreasing", [0, 2, 1]),
          refuse("a NaN offset", [0, NaN, 3]),
          refuse("a non-integer offset", [0, 1.5, 3]),
          refuse("past maxIds", [0, 1, 4]),
        ],
        ids: [
          ...integers([2, 0, 2], 0, 4),
          refuse("too few", [2, 0]),
          accept("more than needed", [2, 0, 2, 4], "ids past offsets[bags] are not read (documented: at least)"),
        ],
      },
    },
    {
      name: "boundEmbedding.setIds(ids)",
      args: () => ({ ids: [4, 1] }),
      call: (a) => boundBag.setIds(a.ids as number[]),
      bad: {
        ids: [
          refuse("a string", "41", T),
          refuse("null", null, T),
          refuse("undefined", undefined, T),
          refuse("the wrong length", [4]),
          refuse("an id past the vocabulary", [5, 1]),
          refuse("a negative id", [-1, 1]),
          refuse("a NaN id", [NaN, 1]),
        ],
      },
    },
    {
      name: "boundEmbedding.bindBackward(dOutput)",
      gpu: true,
      args: () => ({ dOutput: f.t([2, 2]) }),
      call: (a) => boundBag.bindBackward(a.dOutput as Tensor),
      free: destroy,
      bad: { dOutput: tensorArg(f, [2, 2], "f32", [[3, 2]]) },
    },
    {
      name: "new Optimizer(gpu, store, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, store: built.store, "options.kind": "adam", "options.lr": 0.01 }),
      call: (a) => new Optimizer(a.gpu as Gpu, a.store as ParameterStore, arg(a, "options")),
      good: (o) => assert.equal(o.kind, "adam"),
      free: destroy,
      bad: {
        gpu: [...gpuArg(f), refuse("another Gpu", f.other, T, / as store must be a ParameterStore of the same Gpu/)],
        store: [
          refuse("a string", "store", T),
          refuse("null", null, T),
          refuse("an object", {}, T),
          refuse("undefined", undefined, T),
          ...unusable("store"),
          refuse("of another Gpu", foreign.store, T),
        ],
        options: object(),
        "options.kind": choice(["sgd", "adam", "adamw"]),
        "options.lr": [
          ...real([0, -1, 1e300, 1e-300]),
          accept("a function", (step: number) => 0.01 / step, "a schedule of the step (documented)"),
        ],
        "options.momentum": real([-0.1, 1, 1e300], { optional: true }),
        "options.beta1": real([-0.1, 1, 1e300], { optional: true }),
        "options.beta2": real([-0.1, 1, 1e300], { optional: true }),
        "options.eps": real([0, -1, 1e300, 1e-300], { optional: true }),
        "options.weightDecay": real([-1, 1e300], { optional: true }),
        "options.clipNorm": real([0, -1, 1e300], { optional: true }),
      },
    },
    {
      name: "optimizer.setStep(step)",
      args: () => ({ step: 3 }),
      call: (a) => adam.setStep(a.step as number),
      good: () => assert.equal(adam.step, 3),
      bad: { step: int(0) },
    },
    {
      name: "optimizer.encode(pass)",
      gpu: true,
      args: () => ({ "the optimizer": adam }),
      call: (a) => f.gpu.runPass("doors", a["the optimizer"] as Optimizer),
      bad: { "the optimizer": [refuse("destroyed", deadAdam, T)] },
    },
    {
      name: "warmupCosine(options)",
      args: () => ({ "options.peak": 1e-3, "options.warmup": 10, "options.total": 100 }),
      call: (a) => warmupCosine(arg(a, "options")),
      good: (lr) => assert.equal(lr(10), 1e-3),
      bad: {
        options: object(),
        "options.peak": real([0, -1]),
        "options.floor": real([-1, 1], { optional: true }),
        "options.warmup": int(0),
        "options.total": int(10),
      },
    },
    {
      name: "warmupCosine(…)(step)",
      args: () => ({ step: 5 }),
      call: (a) => warmupCosine({ peak: 1, warmup: 10, total: 100 })(a.step as number),
      good: (lr) => assert.equal(lr, 0.5),
      bad: { step: int(0) },
    },
  ];
}

Deno.test({
  name: "parameters, layers and optimizers refuse bad input by name, before any GPU work",
  ...gpuTest,
  fn: (t) => runDoors(t, layerDoors),
});

// ---------------------------------------------------------------------------------------------------------------
// Data.

/** IDX bytes: magic (0, 0, u8 type code, dimension count), big-endian dimensions, then the bytes. */
function idxBytes(shape: number[], data: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  out.set([0, 0, 0x08, shape.length]);
  shape.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

/** A seed's low 32 bits are what the generator uses: the stream must be that of `v >>> 0`. */
function lowBits(label: string, v: number, first: (x: Any) => number): Accepted {
  return accept(label, v, "a seed's low 32 bits are used (documented)", (x) => {
    assert.equal(first(x), new Rng(v >>> 0).next());
  });
}

async function dataDoors(f: Fixtures): Promise<Door[]> {
  const labels = () => new Uint8Array([0, 1, 0]);
  const host = (): Args => ({
    "host.images": new Uint8Array(12).map((_, i) => i * 20),
    "host.rows": 3,
    "host.width": 4,
    "host.imageShape": [2, 2],
    "host.labels": labels(),
    "host.cleanLabels": labels(),
    "host.classes": 2,
  });
  const hostLabels = [...integers([0, 1, 0], 0, 1), refuse("the wrong length", [0, 1])];
  const dataset = new DeviceDataset(f.gpu, arg(host(), "host"));
  f.owned.push(dataset);
  const gathered = Tensor.empty(f.gpu, [2, 4]);
  f.owned.push(gathered);
  const mnist = `${f.dir}/mnist`;
  await Deno.mkdir(mnist, { recursive: true });
  for (const [stem, rows] of [["train", 6], ["t10k", 4]] as const) {
    await Deno.writeFile(`${mnist}/${stem}-images-idx3-ubyte`, idxBytes([rows, 2, 2], new Array(rows * 4).fill(7)));
    await Deno.writeFile(
      `${mnist}/${stem}-labels-idx1-ubyte`,
      idxBytes([rows], Array.from({ length: rows }, (_, i) => i % 3)),
    );
  }
  const idxFile = `${f.dir}/one.idx`;
  await Deno.writeFile(idxFile, idxBytes([2], [5, 6]));
  const clusters = new SyntheticClusters({ classes: 3, dim: 4, seed: 1 });
  const rng = new Rng(1);
  return [
    ...(["new Rng(seed)", "seededRandom(seed)"] as const).map((name): Door => ({
      name,
      args: () => ({ seed: 7 }),
      call: (a) => (name === "new Rng(seed)" ? new Rng(a.seed as number) : seededRandom(a.seed as number)),
      good: (r) => assert.equal(name === "new Rng(seed)" ? r.next() : r(), new Rng(7).next()),
      bad: {
        seed: [
          ...seed(),
          ...[["negative", -1], ["non-integer", 1.5], ["huge (1e300)", 1e300], ["2³²", 2 ** 32]].map(([label, v]) =>
            lowBits(label as string, v as number, (r) => (name === "new Rng(seed)" ? r.next() : r()))
          ),
        ],
      },
    })),
    {
      name: "rng.setState(state)",
      args: () => ({ state: 7 }),
      call: (a) => {
        rng.setState(a.state as number);
        return rng;
      },
      good: (r) => assert.equal(r.next(), new Rng(7).next()),
      bad: {
        state: [...seed(), lowBits("negative", -1, (r) => r.next()), lowBits("non-integer", 7.5, (r) => r.next())],
      },
    },
    {
      name: "gaussian(random)",
      args: () => ({ random: seededRandom(1) }),
      call: (a) => gaussian(a.random as () => number),
      good: (x) => assert.ok(Number.isFinite(x)),
      bad: {
        random: [
          ...FUNCTION,
          refuse("returning 1", () => 1, R, / as random\(\) must be a number in \[0, 1\)/),
          refuse("returning NaN", () => NaN, R, / as random\(\) must be/),
          refuse("returning a negative", () => -0.5, R, / as random\(\) must be/),
          refuse("returning a string", () => "0.5", R, / as random\(\) must be/),
        ],
      },
    },
    {
      name: "new SyntheticClusters(options)",
      args: () => ({ "options.classes": 3, "options.dim": 4 }),
      call: (a) => new SyntheticClusters(arg(a, "options")),
      good: (c) => assert.deepEqual([c.classes, c.dim], [3, 4]),
      bad: {
        options: object({ optional: true }),
        "options.classes": int(2, Infinity, { optional: true }),
        "options.dim": int(1, Infinity, { optional: true }),
        "options.noise": [
          ...real([-1, 1e300], { optional: true }),
          accept("zero", 0, "no noise: every sample is its prototype", (c) => {
            const [x, y] = [new Float32Array(4), new Float32Array(4)];
            c.sample(1, x, 0);
            c.sample(1, y, 0);
            assert.deepEqual(x, y);
          }),
        ],
        "options.seed": seed({ optional: true }),
      },
    },
    {
      name: "syntheticClusters.sample(label, out, offset)",
      args: () => ({ label: 2, out: new Float32Array(8), offset: 4 }),
      call: (a) => {
        clusters.sample(a.label as number, a.out as Float32Array, a.offset as number);
        return a.out;
      },
      good: (out) =>
        assert.ok(out.slice(4).every((v: number) => v !== 0) && out.slice(0, 4).every((v: number) => v === 0)),
      bad: {
        label: int(0, 2),
        out: [
          refuse("a string", "out", T),
          refuse("null", null, T),
          refuse("undefined", undefined, T),
          refuse("a plain array", new Array(8).fill(0), T),
          refuse("a Float64Array", new Float64Array(8), T),
        ],
        offset: int(0, 4),
      },
    },
    {
      name: "syntheticClusters.otherClass(not)",
      args: () => ({ not: 1 }),
      call: (a) => clusters.otherClass(a.not as number),
      good: (c) => assert.ok(c === 0 || c === 2),
      bad: { not: int(0, 2) },
    },
    {
      name: "new DeviceDataset(gpu, host)",
      gpu: true,
      args: () => ({ gpu: f.gpu, ...host() }),
      call: (a) => new DeviceDataset(a.gpu as Gpu, arg(a, "host")),
      good: (d) => assert.equal(d.layout.rows, 3),
      free: destroy,
      bad: {
        gpu: gpuArg(f),
        host: object(),
        "host.rows": int(1),
        "host.width": int(1),
        "host.classes": int(2, 256),
        "host.images": typed(new Uint8Array(12)),
        "host.labels": hostLabels,
        "host.cleanLabels": hostLabels,
        "host.imageShape": [
          refuse("a string", "2x2", T),
          refuse("one dimension", [4]),
          refuse("another product", [3, 2]),
          refuse("a zero dimension", [0, 4]),
          accept("absent", undefined, "rows that are not images (no augmentation)", destroy),
        ],
      },
    },
    {
      name: "deviceDataset.gather(ids, out, options)",
      gpu: true,
      args: () => ({ ids: f.t([2], "u32"), out: gathered }),
      call: (a) => dataset.gather(a.ids as Tensor, a.out as Tensor, arg(a, "options")),
      free: destroy,
      bad: {
        ids: tensorArg(f, [2], "u32"),
        out: tensorArg(f, [2, 4], "f32", [[3, 4]]),
        options: object({ optional: true }),
        "options.scale": real([1e300], { optional: true }),
        "options.warps": tensorArg(f, [2, 12], "f32", [[3, 12]], { optional: true }),
      },
    },
    {
      name: "sliceRows(data, from, to)",
      args: () => ({
        ...Object.fromEntries(Object.entries(host()).map(([k, v]) => [k.replace("host", "data"), v])),
        from: 1,
        to: 3,
      }),
      call: (a) => sliceRows(arg(a, "data"), a.from as number, a.to as number),
      good: (d) => assert.deepEqual([d.rows, Array.from(d.labels)], [2, [1, 0]]),
      bad: {
        data: object(),
        "data.rows": int(1),
        "data.images": [refuse("a plain array", new Array(12).fill(0), T)],
        "data.labels": hostLabels,
        from: int(0, 2),
        to: int(2, 3),
      },
    },
    {
      name: "mergeClasses(data, mapping)",
      args: () => ({
        ...Object.fromEntries(Object.entries(host()).map(([k, v]) => [k.replace("host", "data"), v])),
        "data.classes": 4,
        "data.labels": [0, 1, 3],
        "data.cleanLabels": [0, 2, 3],
        mapping: [0, 1, 0, 1],
      }),
      call: (a) => mergeClasses(arg(a, "data"), a.mapping as number[]),
      good: (d) =>
        assert.deepEqual([d.classes, Array.from(d.labels), Array.from(d.cleanLabels)], [2, [0, 1, 1], [0, 0, 1]]),
      bad: {
        data: object(),
        "data.classes": int(2, 256),
        "data.labels": [refuse("a string", "013", T), refuse("a label >= classes", [4, 0, 0])],
        mapping: [
          ...integers([0, 1, 0, 1], 0, 3).filter((c) => c.label !== "a string element"),
          refuse("a string element", ["1", 1, 0, 1], T),
          refuse("one entry short", [0, 1, 0]),
          refuse("one merged class", [0, 0, 0, 0]),
          refuse("a merged class skipped", [0, 2, 0, 2]),
        ],
      },
    },
    {
      name: "moduloMerge(classes, into)",
      args: () => ({ classes: 6, into: 3 }),
      call: (a) => moduloMerge(a.classes as number, a.into as number),
      good: (m) => assert.deepEqual(m, [0, 1, 2, 0, 1, 2]),
      bad: {
        classes: [
          ...int(2, 256),
          refuse("not a multiple of into", 7, R, / as into must be a divisor of classes \(7\)/),
        ],
        into: [...int(2, 6), refuse("not a divisor of classes", 4)],
      },
    },
    {
      name: "randomPhotometric(rng, rows, ranges, out)",
      args: () => ({ rng: new Rng(1), rows: 2, "ranges.noise": 0.5 }),
      call: (a) => randomPhotometric(a.rng as Rng, a.rows as number, arg(a, "ranges"), a.out as Float32Array),
      good: (p) => assert.ok(p.length === 8 && p[2] >= 0 && p[2] <= 0.5 && p[6] >= 0 && p[6] <= 0.5),
      bad: {
        rng: RNG,
        rows: int(1),
        ranges: object({ optional: true }),
        "ranges.contrast": range(["a negative", -1]),
        "ranges.brightness": real([-1, 1e300], { optional: true }),
        "ranges.noise": real([-1, 1e300], { optional: true }),
        out: [
          ...typed(new Float32Array(8), [Float64Array], { optional: true }),
          accept("a Float32Array of rows·4", new Float32Array(8), "written in place and returned", (p) => {
            assert.equal(p.length, 8);
          }),
        ],
      },
    },
    {
      name: "syntheticImages(options)",
      args: () => ({ "options.rows": 4, "options.side": 2, "options.classes": 2 }),
      call: (a) => syntheticImages(arg(a, "options")),
      good: (d) => assert.deepEqual([d.rows, d.width, d.images.length], [4, 4, 16]),
      bad: {
        options: object({ optional: true }),
        "options.rows": int(1, Infinity, { optional: true }),
        "options.classes": int(2, 256, { optional: true }),
        "options.side": int(1, 4096, { optional: true }),
        "options.labelNoise": real([-0.1, 1], { optional: true }),
        "options.noise": real([-1, 1e300], { optional: true }),
        "options.seed": seed({ optional: true }),
      },
    },
    {
      name: "syntheticSplits(options)",
      args: () => ({ "options.trainRows": 4, "options.testRows": 2, "options.side": 2 }),
      call: (a) => syntheticSplits(arg(a, "options")),
      good: (s) => assert.deepEqual([s.train.rows, s.test.rows], [4, 2]),
      bad: {
        options: object({ optional: true }),
        "options.trainRows": int(1, Infinity, { optional: true }),
        "options.testRows": int(1, Infinity, { optional: true }),
        "options.labelNoise": real([-0.1, 1], { optional: true }),
      },
    },
    {
      name: "parseIdx(bytes, source)",
      args: () => ({ bytes: idxBytes([2], [5, 6]), source: "doors" }),
      call: (a) => parseIdx(a.bytes as Uint8Array, a.source as string),
      good: (x) => assert.deepEqual([x.shape, Array.from(x.data)], [[2], [5, 6]]),
      bad: {
        bytes: [
          refuse("a string", "idx", T),
          refuse("null", null, T),
          refuse("undefined", undefined, T),
          refuse("a plain array", [0, 0, 8, 1, 0, 0, 0, 1, 5], T),
          refuse("truncated", new Uint8Array(3), IdxError, /^doors: truncated/),
        ],
        source: string(),
      },
    },
    {
      name: "readIdx(path)",
      args: () => ({ path: idxFile }),
      call: (a) => readIdx(a.path as string),
      good: (x) => assert.deepEqual(Array.from(x.data), [5, 6]),
      bad: {
        path: [...string({ nonEmpty: true }), refuse("missing", `${f.dir}/none`, IdxError, /none: cannot be read/)],
      },
    },
    {
      name: "injectLabelNoise(labels, classes, rate, random)",
      args: () => ({ labels: [0, 1, 1, 0], classes: 2, rate: 0.5, random: seededRandom(1) }),
      call: (a) =>
        injectLabelNoise(a.labels as number[], a.classes as number, a.rate as number, a.random as () => number),
      good: (r) => assert.ok(r.labels.every((y: number) => y < 2)),
      bad: {
        labels: integers([0, 1, 1, 0], 0, 1),
        // Labels come back as bytes: more than 256 classes would wrap.
        classes: int(2, 256),
        rate: [
          ...real([-0.1, 1]),
          accept("zero", 0, "no noise", (r) => assert.deepEqual(Array.from(r.labels), [0, 1, 1, 0])),
        ],
        random: [
          ...FUNCTION,
          refuse("returning NaN", () => NaN, R, / as random\(\) must be/),
          refuse("returning 1", () => 1, R, / as random\(\) must be/),
        ],
      },
    },
    {
      name: "loadMnistFiles(dir, options)",
      args: () => ({ dir: mnist, "options.labelNoise": 0.5, "options.seed": 2 }),
      call: (a) => loadMnistFiles(a.dir as string, arg(a, "options")),
      good: (d) => assert.deepEqual([d.train.rows, d.test.rows, d.train.classes], [6, 4, 3]),
      bad: {
        dir: [
          ...string({ nonEmpty: true, optional: true }),
          refuse(
            "a folder without the files",
            `${f.dir}/none`,
            IdxError,
            /none\/train-images-idx3-ubyte\.gz: not found/,
          ),
        ],
        options: [
          ...object({ optional: true }),
          refuse("a misspelt option", { labelnoise: 0.3 }, R, /options\.labelnoise must be an option of/),
        ],
        "options.labelNoise": real([-0.1, 1], { optional: true }),
        "options.seed": seed({ optional: true }),
      },
    },
    {
      name: "mnistSplits(train, test, options)",
      args: () => {
        const split = (name: string, rows: number): Args => ({
          [`${name}.images`]: { shape: [rows, 2, 2], data: new Uint8Array(rows * 4).fill(7) },
          [`${name}.labels`]: { shape: [rows], data: Uint8Array.from({ length: rows }, (_, i) => i % 3) },
          [`${name}.sources.images`]: `${name} images`,
          [`${name}.sources.labels`]: `${name} labels`,
        });
        return { ...split("train", 6), ...split("test", 4), "options.labelNoise": 0.5, "options.seed": 2 };
      },
      call: (a) => mnistSplits(arg(a, "train"), arg(a, "test"), arg(a, "options")),
      good: (d) => assert.deepEqual([d.train.rows, d.test.rows, d.train.classes], [6, 4, 3]),
      bad: {
        train: object(),
        test: object(),
        "train.images": [
          refuse("a plain array", [7, 7], T),
          refuse("{ shape } without data", { shape: [6, 2, 2] }, T, /train\.images must be an IdxArray/),
          refuse("labels-shaped", { shape: [6], data: new Uint8Array(6) }, IdxError, /^train images: images must/),
          refuse("data shorter than its shape", { shape: [6, 2, 2], data: new Uint8Array(3) }, R, /data\.length must/),
          refuse("a fractional size", { shape: [6, 2.5, 2], data: new Uint8Array(30) }, R, /shape\[1\] must be an/),
          refuse("a negative size", { shape: [-6, 2, 2], data: new Uint8Array(0) }, R, /shape\[0\] must be an/),
        ],
        "train.labels": [
          refuse("one short", { shape: [5], data: new Uint8Array(5) }, IdxError, /^train labels: labels must be one/),
          refuse("more labels than its shape", { shape: [6], data: new Uint8Array(7) }, R, /data\.length must/),
          refuse("one class", { shape: [6], data: new Uint8Array(6) }, IdxError, /at least 2 classes/),
        ],
        "test.images": [
          refuse("3×3 images", { shape: [4, 3, 3], data: new Uint8Array(36) }, IdxError, /test images must be 2×2/),
        ],
        "train.sources": object(),
        "test.sources.labels": string(),
        options: [
          ...object({ optional: true }),
          refuse("a misspelt option", { noise: 0.3 }, R, /options\.noise must be an option of labelNoise, seed/),
        ],
        "options.labelNoise": real([-0.1, 1], { optional: true }),
        "options.seed": seed({ optional: true }),
      },
    },
    {
      name: "hasMnistFiles(dir)",
      args: () => ({ dir: mnist }),
      call: (a) => hasMnistFiles(a.dir as string),
      good: (x) => assert.equal(x, true),
      bad: {
        dir: [
          ...string({ nonEmpty: true, optional: true }),
          accept("a folder without the files", `${f.dir}/none`, "the answer is no", (x) => assert.equal(x, false)),
        ],
      },
    },
    {
      name: "randomWarps(rng, rows, ranges, out)",
      args: () => ({ rng: new Rng(1), rows: 2 }),
      call: (a) => randomWarps(a.rng as Rng, a.rows as number, arg(a, "ranges"), a.out as Float32Array),
      good: (w) => assert.equal(w.length, 24),
      bad: {
        rng: RNG,
        rows: int(1),
        ranges: object({ optional: true }),
        "ranges.rotate": real([-1, 181], { optional: true }),
        "ranges.scale": range(["a zero", 0]),
        "ranges.shear": real([-1, 1e300], { optional: true }),
        "ranges.translate": real([-1, 1e300], { optional: true }),
        out: typed(new Float32Array(24), [Float64Array], { optional: true }),
      },
    },
  ];
}

Deno.test({
  name: "the data readers, generators and datasets refuse bad input by name, before any GPU work",
  ...gpuTest,
  fn: (t) => runDoors(t, dataDoors),
});

// ---------------------------------------------------------------------------------------------------------------
// Samplers.

function samplerDoors(f: Fixtures): Door[] {
  const pairs = new PairSampler([0, 1, 0, 1], { batch: 2 });
  const negatives = new BatchNegativeSampler({ batch: 4, kMax: 2, excludeSameLabel: true });
  const pool = new PoolSampler({ items: 6, kMax: 2 });
  const queue = new EmbeddingQueue(f.gpu, { capacity: 4, dim: 2, seed: 1 });
  const encoder = f.gpu.device.createCommandEncoder();
  queue.push(encoder, f.t([2, 2]), [0, 1]);
  f.gpu.submit("doors", encoder);
  f.owned.push(queue);
  const deadQueueRows = f.dead([2, 2]);
  return [
    {
      name: "new PairSampler(labels, options)",
      args: () => ({ labels: [0, 1, 0, 1], "options.batch": 2 }),
      call: (a) => new PairSampler(a.labels as number[], arg(a, "options")),
      good: (p) => {
        p.sample();
        assert.equal(p.labels[0], [0, 1, 0, 1][p.anchors[0]]);
      },
      bad: {
        labels: [
          ...integers([0, 1, 0, 1], 0),
          refuse("empty", []),
          refuse("a label past u32", [2 ** 32, 1, 0, 1]),
          accept(
            "sparse labels",
            [7, 1e9, 7, 1e9],
            "labels are any non-negative integers: no array is sized by them",
            (p) => {
              p.sample();
              assert.ok([7, 1e9].includes(p.labels[0]));
            },
          ),
        ],
        options: object(),
        "options.batch": int(1),
        "options.seed": seed({ optional: true }),
      },
    },
    {
      name: "pairSampler.setState(state)",
      args: () => ({ state: 5 }),
      call: (a) => pairs.setState(a.state as number),
      good: () => assert.equal(pairs.state, 5),
      bad: { state: seed() },
    },
    {
      name: "new BatchNegativeSampler(options)",
      args: () => ({ "options.batch": 4, "options.kMax": 2 }),
      call: (a) => new BatchNegativeSampler(arg(a, "options")),
      good: (s) => assert.equal(s.sample().length, 12),
      bad: {
        options: object(),
        "options.batch": int(2),
        "options.kMax": int(1, 3),
        "options.excludeSameLabel": BOOL,
        "options.seed": seed({ optional: true }),
      },
    },
    {
      name: "batchNegativeSampler.sample(labels, out)",
      args: () => ({ labels: [0, 0, 1, 1], out: new Uint32Array(12) }),
      call: (a) => negatives.sample(a.labels as number[], a.out as Uint32Array),
      good: (t) => assert.ok([1, 2, 4, 5].every((s) => t[s] >= 2)),
      bad: {
        labels: [
          refuse("a number", 3, T),
          refuse("null", null, T),
          refuse("an object", {}, T),
          refuse("undefined (needed when excluding)", undefined),
          refuse("the wrong length", [0, 1]),
        ],
        out: typed(new Uint32Array(12), [Float32Array], { optional: true }),
      },
    },
    {
      name: "allBatchNegatives(batch)",
      args: () => ({ batch: 3 }),
      call: (a) => allBatchNegatives(a.batch as number),
      good: (t) => assert.deepEqual(Array.from(t), [0, 1, 2, 1, 0, 2, 2, 0, 1]),
      bad: { batch: int(2) },
    },
    {
      name: "new PoolSampler(options)",
      args: () => ({ "options.items": 4, "options.kMax": 2, "options.labels": [0, 1, 0, 1] }),
      call: (a) => new PoolSampler(arg(a, "options")),
      good: (p) => assert.equal(p.sample([1]).length, 3),
      bad: {
        options: object(),
        "options.items": int(2),
        "options.kMax": int(1),
        "options.labels": [
          ...integers([0, 1, 0, 1], 0, 2 ** 32 - 1, { optional: true }),
          refuse("the wrong length", [0, 1]),
        ],
        "options.excludeSameLabel": [
          ...BOOL,
          accept("true", true, "with labels, negatives never share the positive's label", (p) => {
            const t = p.sample([1]);
            assert.ok([t[1], t[2]].every((n) => n % 2 === 0));
          }),
        ],
        "options.seed": seed({ optional: true }),
      },
    },
    {
      name: "poolSampler.sample(positives, out)",
      args: () => ({ positives: [1, 4] }),
      call: (a) => pool.sample(a.positives as number[], a.out as Uint32Array),
      good: (t) => assert.deepEqual([t[0], t[3]], [1, 4]),
      bad: {
        positives: [
          ...integers([1, 4], 0, 5),
          accept("none", [], "no anchor, an empty table", (t) => assert.equal(t.length, 0)),
        ],
        out: typed(new Uint32Array(6), [Float32Array], { optional: true }),
      },
    },
    {
      name: "new EmbeddingQueue(gpu, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, "options.capacity": 4, "options.dim": 2 }),
      call: (a) => new EmbeddingQueue(a.gpu as Gpu, arg(a, "options")),
      good: (q) => assert.deepEqual([...q.embeddings.shape], [4, 2]),
      free: destroy,
      bad: {
        gpu: gpuArg(f),
        options: object(),
        "options.capacity": int(1),
        "options.dim": int(1),
        "options.seed": seed({ optional: true }),
      },
    },
    {
      name: "embeddingQueue.push(encoder, source, labels)",
      gpu: true,
      args: () => ({ encoder: f.gpu.device.createCommandEncoder(), source: f.t([2, 2]), labels: [1, 0] }),
      call: (a) => queue.push(a.encoder as GPUCommandEncoder, a.source as Tensor, a.labels as number[]),
      bad: {
        encoder: [
          refuse("a string", "encoder", T),
          refuse("null", null, T),
          refuse("a GPUDevice", f.gpu.device, T),
          refuse("an object", {}, T),
        ],
        source: [
          ...tensorArg(f, [2, 2], "f32", [[3], [5, 2]]),
          refuse("a destroyed tensor", deadQueueRows, T),
        ],
        labels: [...integers([1, 0], 0, 2 ** 31 - 1, { optional: true }), refuse("the wrong length", [1])],
      },
    },
    {
      name: "embeddingQueue.sample(anchorLabels, k, excludeSameLabel)",
      args: () => ({ anchorLabels: [0, 1], k: 3, excludeSameLabel: true }),
      call: (a) => queue.sample(a.anchorLabels as number[], a.k as number, a.excludeSameLabel as boolean),
      good: (t) => assert.equal(t.length, 6),
      bad: {
        anchorLabels: [
          refuse("NaN", NaN, R),
          refuse("a negative count", -1),
          refuse("a non-integer count", 1.5),
          refuse("a huge count", 1e300),
          refuse("a string", "01", T),
          refuse("null", null, T),
          refuse("a count with excludeSameLabel", 2, T),
        ],
        k: int(1),
        excludeSameLabel: BOOL,
      },
    },
  ];
}

Deno.test({
  name: "the samplers and the embedding queue refuse bad input by name, before any GPU work",
  ...gpuTest,
  fn: (t) => runDoors(t, samplerDoors),
});

// ---------------------------------------------------------------------------------------------------------------
// The K theory and schedules.

function scheduleDoors(_f: Fixtures): Door[] {
  const LAMBDA = [0, -1, 1.5, 1e300];
  const K = 65535; // the theory tabulates at most the loss's kMax
  const pieces = {
    options: object({ optional: true }),
    "options.wGood": real([], { optional: true }),
    "options.wBad": real([], { optional: true }),
    "options.informativeness": choice(["model", "mi"], { optional: true }),
  };
  const accuracies = (empty: Case) => [
    refuse("a number", 3, T),
    refuse("an object", {}, T),
    refuse("a string", "0.5", T),
    ...missing(true),
    refuse("a NaN element", [NaN, 0.5]),
    refuse("an element above 1", [1.5, 0.5]),
    refuse("a negative element", [-0.1, 0.5]),
    refuse("a string element", ["0.5", 0.5]),
    empty,
  ];
  const counts = [...integers([1, 1, 0], 0, 1), refuse("empty", [])];
  const input = {
    input: object(),
    "input.step": int(0),
    "input.totalSteps": int(1),
  };
  const loop = () => closedLoopK({ lambda: 0.9, kMax: 8, every: 1 });
  const feedback = new RankCountFeedback(10);
  feedback.add({ step: 10, k: 2, below: [1, 2] });
  return [
    {
      name: "bestK(lambda, modelAccuracy, options)",
      args: () => ({ lambda: 0.9, modelAccuracy: pairwiseAccuracy(0.9, 8) }),
      call: (a) => bestK(a.lambda as number, a.modelAccuracy as number[], arg(a, "options")),
      good: (k) => assert.equal(k, 3),
      bad: { lambda: real(LAMBDA), modelAccuracy: accuracies(refuse("empty (no K to choose)", [])), ...pieces },
    },
    {
      name: "effectiveness(lambda, modelAccuracy, options)",
      args: () => ({ lambda: 0.9, modelAccuracy: [0.5, 0.25] }),
      call: (a) => effectiveness(a.lambda as number, a.modelAccuracy as number[], arg(a, "options")),
      good: (fk) => assert.equal(fk.length, 2),
      bad: {
        lambda: real(LAMBDA),
        modelAccuracy: accuracies(accept("empty", [], "F over no K is empty", (fk) => assert.deepEqual(fk, []))),
        ...pieces,
      },
    },
    {
      name: "bestKFromCounts(lambda, below, kNow, kMax, options)",
      args: () => ({ lambda: 1, below: [1, 1, 0], kNow: 1, kMax: 4 }),
      call: (a) =>
        bestKFromCounts(a.lambda as number, a.below as number[], a.kNow as number, a.kMax as number, arg(a, "options")),
      good: (k) => assert.ok(k >= 1 && k <= 4),
      bad: {
        lambda: real(LAMBDA),
        below: counts,
        kNow: int(1),
        kMax: int(1, K),
        ...pieces,
        "options.pseudoCounts": real([-1], { optional: true }),
      },
    },
    {
      name: "modelAccuracyFromCounts(below, kNow, kMax, pseudoCounts)",
      args: () => ({ below: [1, 0], kNow: 1, kMax: 2 }),
      call: (a) =>
        modelAccuracyFromCounts(a.below as number[], a.kNow as number, a.kMax as number, a.pseudoCounts as number),
      good: (p) => assert.deepEqual(p, [0.5, 0.5]),
      bad: {
        below: [...integers([1, 0], 0, 1), refuse("empty", [])],
        kNow: int(1),
        kMax: int(1, K),
        pseudoCounts: real([-1], { optional: true }),
      },
    },
    {
      name: "lambdaFromClasses(classes)",
      args: () => ({ classes: 4 }),
      call: (a) => lambdaFromClasses(a.classes as number),
      good: (l) => assert.equal(l, 0.75),
      bad: { classes: int(2) },
    },
    {
      name: "lambdaFromLabelNoise(classes, noise)",
      args: () => ({ classes: 4, noise: 0 }),
      call: (a) => lambdaFromLabelNoise(a.classes as number, a.noise as number),
      good: (l) => assert.equal(l, 1),
      bad: { classes: int(2), noise: real([-0.1, 1]) },
    },
    {
      name: "lambdaFromCounts(below, kNow)",
      args: () => ({ below: [9, 9, 9], kNow: 10 }),
      call: (a) => lambdaFromCounts(a.below as number[], a.kNow as number),
      good: (l) => assert.equal(l, 0.8),
      bad: {
        below: [...integers([9, 9, 9], 0, 10), refuse("empty", [])],
        kNow: int(1),
      },
    },
    {
      name: "limitBestK(lambda, kMax, options)",
      args: () => ({ lambda: 0.9, kMax: 64 }),
      call: (a) => limitBestK(a.lambda as number, a.kMax as number, arg(a, "options")),
      good: (k) => assert.equal(k, 3),
      bad: { lambda: real(LAMBDA), kMax: int(1, K), ...pieces },
    },
    {
      name: "pairwiseAccuracy(mu, kMax)",
      args: () => ({ mu: 0.5, kMax: 2 }),
      call: (a) => pairwiseAccuracy(a.mu as number, a.kMax as number),
      good: (p) => assert.deepEqual(p, [0.5, 0.25]),
      bad: { mu: real([-0.1, 1.1, 1e300]), kMax: int(1, K) },
    },
    {
      name: "fixedK(k)",
      args: () => ({ k: 4 }),
      call: (a) => fixedK(a.k as number),
      good: (s) => assert.equal(s.next({ step: 0, totalSteps: 1 }), 4),
      bad: { k: int(1) },
    },
    {
      name: "fixedK(…).next(input)",
      args: () => ({ "input.step": 0, "input.totalSteps": 10 }),
      call: (a) => fixedK(4).next(arg(a, "input")),
      good: (k) => assert.equal(k, 4),
      bad: input,
    },
    {
      name: "ansSchedule(options)",
      args: () => ({ "options.kStar": 8, "options.warmup": 0.5, "options.decayStart": 0.8 }),
      call: (a) => ansSchedule(arg(a, "options")),
      good: (s) => assert.equal(s.next({ step: 25, totalSteps: 100 }), 5),
      bad: {
        options: object(),
        "options.kStar": int(1),
        "options.warmup": real([-0.1, 1.1], { optional: true }),
        "options.decayStart": real([0.4, 1.1], { optional: true }),
        "options.decayTo": int(1, Infinity, { optional: true }),
      },
    },
    {
      name: "ansSchedule(…).next(input)",
      args: () => ({ "input.step": 25, "input.totalSteps": 100 }),
      call: (a) => ansSchedule({ kStar: 8, warmup: 0.5 }).next(arg(a, "input")),
      good: (k) => assert.equal(k, 5),
      bad: { ...input, "input.counts": [refuse("a string", "counts", T)] },
    },
    {
      name: "closedLoopK(options)",
      args: () => ({ "options.lambda": 0.9, "options.kMax": 8 }),
      call: (a) => closedLoopK(arg(a, "options")),
      good: (s) => assert.equal(s.next({ step: 0, totalSteps: 10 }), 1),
      bad: {
        options: object(),
        "options.lambda": real(LAMBDA),
        "options.kMax": int(1, K),
        "options.every": int(1, Infinity, { optional: true }),
        "options.smoothing": real([0, 1.5], { optional: true }),
        "options.maxChange": int(1, Infinity, { optional: true }),
        "options.initial": int(1, 8, { optional: true }),
        "options.pseudoCounts": real([-1], { optional: true }),
        "options.wGood": real([], { optional: true }),
        "options.informativeness": choice(["model", "mi"], { optional: true }),
      },
    },
    {
      name: "closedLoopK(…).next(input)",
      args: () => ({ "input.step": 1, "input.totalSteps": 10, "input.counts": { below: [1, 1], kNow: 1 } }),
      call: (a) => loop().next(arg(a, "input")),
      good: (k) => assert.ok(k >= 1 && k <= 3),
      bad: {
        ...input,
        "input.counts": [
          refuse("a string", "counts", T),
          refuse("a negative count", { below: [-1, 1], kNow: 1 }, R, / as below\[0\] must be/),
          refuse("a count above kNow", { below: [2, 1], kNow: 1 }, R, / as below\[0\] must be/),
          refuse("a NaN kNow", { below: [1, 1], kNow: NaN }, R, / as kNow must be/),
        ],
      },
    },
    {
      name: "closedLoopK(…).setState(state)",
      args: () => ({ state: [2, 2.5] }),
      call: (a) => {
        const s = loop();
        s.setState(a.state as number[]);
        return s;
      },
      good: (s) => assert.deepEqual(s.state, [2, 2.5]),
      bad: {
        state: [
          refuse("a string", "2", T),
          refuse("null", null, T),
          refuse("k out of range", [0, 1]),
          refuse("a non-integer k", [1.5, 1]),
          refuse("a NaN smoothed K", [1, NaN]),
          refuse("a smoothed K past kMax", [1, 9]),
          refuse("three numbers", [1, 1, 1]),
        ],
      },
    },
    {
      name: "new RankCountFeedback(every)",
      args: () => ({ every: 10 }),
      call: (a) => new RankCountFeedback(a.every as number),
      good: (fb) => assert.equal(fb.dueAt(21), 10),
      bad: { every: int(1) },
    },
    ...(["dueAt", "has"] as const).map((method): Door => ({
      name: `rankCountFeedback.${method}(step)`,
      args: () => ({ step: 21 }),
      call: (a) => feedback[method](a.step as number),
      bad: { step: int(1) },
    })),
    {
      name: "rankCountFeedback.apply(step)",
      args: () => ({ step: 10 }),
      call: (a) => {
        const fb = new RankCountFeedback(10);
        fb.add({ step: 10, k: 2, below: [1, 2] });
        fb.apply(a.step as number);
        return fb;
      },
      good: (fb) => assert.deepEqual(fb.current?.below, [1, 2]),
      bad: { step: [...int(1), refuse("counts not arrived", 20)] },
    },
    {
      name: "rankCountFeedback.add(counts)",
      args: () => ({ "counts.step": 20, "counts.k": 1, "counts.below": [1, 0] }),
      call: (a) => feedback.add(arg(a, "counts")),
      bad: {
        counts: object(),
        "counts.step": int(1),
        "counts.k": int(1),
        // Counts above k are carried (the K theory refuses them where they are used): no row for them here.
        "counts.below": integers([1, 0], 0),
      },
    },
    {
      name: "rankCountFeedback.setState(state)",
      args: () => ({ "state.pending": [{ step: 10, k: 2, below: [1, 2] }], "state.current": null }),
      call: (a) => {
        const fb = new RankCountFeedback(10);
        fb.setState(arg(a, "state"));
        return fb;
      },
      good: (fb) => assert.ok(fb.has(10)),
      bad: {
        state: object(),
        "state.pending": [
          refuse("a string", "x", T),
          refuse("a record with step 0", [{ step: 0, k: 1, below: [] }]),
          refuse("a record with a negative count", [{ step: 10, k: 1, below: [-2] }]),
        ],
        "state.current": [
          refuse("a string", "x", T),
          refuse("a record with a NaN k", { step: 10, k: NaN, below: [] }),
          accept("a record", { step: 10, k: 2, below: [1] }, "counts in effect", (fb) => assert.equal(fb.current.k, 2)),
        ],
      },
    },
  ];
}

Deno.test("the K theory and the K schedules refuse bad input by name", (t) => runDoors(t, scheduleDoors));

// ---------------------------------------------------------------------------------------------------------------
// Training, evaluation, checkpoints, charts.

/** Calls `call` with environment variables set (a string) or unset (undefined), then puts them back. */
async function withEnv<T>(vars: Record<string, unknown>, call: () => T | Promise<T>): Promise<T> {
  const saved = Object.keys(vars).map((name) => [name, Deno.env.get(name)] as const);
  const put = (name: string, value: unknown) =>
    typeof value === "string" ? Deno.env.set(name, value) : Deno.env.delete(name);
  for (const [name, value] of Object.entries(vars)) put(name, value);
  try {
    return await call();
  } finally {
    for (const [name, value] of saved) put(name, value);
  }
}

function removeIfThere(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function trainingDoors(f: Fixtures): Promise<Door[]> {
  const notBuilt = / as build\(\) must be called before parameters are used/;
  const model = (build: boolean) => {
    const store = new ParameterStore(f.gpu, { seed: 1 });
    const encoder = mlp(store, [4, 3]);
    if (build) store.build();
    return { store, encoder };
  };
  const built = model(true);
  const unbuilt = model(false);
  const images = (rows: number, side: number, seed: number) => syntheticImages({ rows, side, classes: 2, seed });
  const dataset = new DeviceDataset(f.gpu, images(3, 2, 1));
  const wide = new DeviceDataset(f.gpu, images(3, 3, 1));
  const embedder = new Embedder(f.gpu, built.encoder, { train: dataset }, { chunk: 2 });
  const deadEmbedder = new Embedder(f.gpu, built.encoder, { train: dataset }, { chunk: 2 });
  deadEmbedder.destroy();
  f.owned.push(built.store, dataset, wide, embedder);
  const checkpoint = `${f.dir}/model.safetensors`;
  await saveCheckpoint(checkpoint, built.store, null, { step: 3 });
  const safetensors = encodeSafetensors({ w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } });
  await Deno.writeFile(`${f.dir}/w.safetensors`, safetensors);
  const train = images(40, 2, 1);
  const test = images(20, 2, 2);
  const record = {
    step: 1,
    loss: 1,
    k: 1,
    kStar: 1,
    pB: 0,
    miBound: 0,
    eta: 0,
    top1: 0,
    gradNorm: 1,
    stepsPerSecond: 1,
    lambdaHat: 0,
    donskerVaradhan: 0,
  };
  const records = [
    refuse("a string", "records", T),
    refuse("null", null, T),
    refuse("undefined", undefined, T),
    refuse("a null record", [null], T),
    refuse("a NaN loss", [{ ...record, loss: NaN }]),
    refuse("an Infinity K*", [{ ...record, kStar: Infinity }]),
    refuse("a string step", [{ ...record, step: "1" }], T),
  ];
  const evals = [
    refuse("a string", "evals", T),
    refuse("null", null, T),
    refuse("undefined", undefined, T),
    refuse("a NaN accuracy", [{ step: 1, accuracy: NaN }]),
    refuse("a point without step", [{ accuracy: 0.5 }], T),
  ];
  const encoders = [
    ...object(),
    refuse("an object", {}, T),
    refuse("a layer, not a Sequential", new L2Normalize(), T),
    refuse("on a store not built", unbuilt.encoder, R, notBuilt),
  ];
  const otherStore = new ParameterStore(f.other);
  otherStore.add("w", [1], "zeros");
  otherStore.build();
  const queues = {
    good: new EmbeddingQueue(f.gpu, { capacity: 8, dim: 3 }),
    narrow: new EmbeddingQueue(f.gpu, { capacity: 8, dim: 2 }),
    small: new EmbeddingQueue(f.gpu, { capacity: 4, dim: 3 }),
    dead: new EmbeddingQueue(f.gpu, { capacity: 8, dim: 3 }),
  };
  queues.dead.destroy();
  f.owned.push(otherStore, queues.good, queues.narrow, queues.small);
  const plainConfig = { dims: [4, 8], batch: 8, kMax: 4, steps: 10, evalSizes: { bank: 20, queries: 10 } };
  const trainer = new Trainer(f.gpu, { train, test }, plainConfig);
  const deadTrainer = new Trainer(f.gpu, { train, test }, plainConfig);
  deadTrainer.destroy();
  const otherTrainer = new Trainer(f.gpu, { train, test }, { ...plainConfig, seed: 2 });
  const trainerBytes = await trainer.saveBytes();
  const otherTrainerBytes = await otherTrainer.saveBytes();
  otherTrainer.destroy();
  f.owned.push(trainer);
  const trainerFile = `${f.dir}/trainer.safetensors`;
  await Deno.writeFile(trainerFile, trainerBytes);
  const adam = new Optimizer(f.gpu, built.store, { kind: "adam", lr: 0.1 });
  const deadAdam = new Optimizer(f.gpu, built.store, { kind: "adam", lr: 0.1 });
  deadAdam.destroy();
  const another = model(true);
  const anotherAdam = new Optimizer(f.gpu, another.store, { kind: "adam", lr: 0.1 });
  const deadStore = model(true).store;
  deadStore.destroy();
  f.owned.push(adam, another.store, anotherAdam);
  const checkpointFile = await Deno.readFile(checkpoint);
  const storeRows = [
    ...object(),
    refuse("an object", {}, T),
    refuse("not built", unbuilt.store),
    refuse("destroyed", deadStore, T),
  ];
  const optimizerRows = [
    refuse("a string", "adam", T),
    refuse("undefined (null is none)", undefined, T),
    refuse("an object", {}, T),
    refuse("an optimizer of another store", anotherAdam, T),
    refuse("destroyed", deadAdam, T),
  ];
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  const stateRows: Record<string, Case[]> = {
    state: object(),
    "state.step": int(0),
    "state.rngState": int(0, 2 ** 32 - 1, { optional: true }),
    "state.config": [
      refuse("a BigInt", 1n, T),
      refuse("a cycle", cycle, T),
      refuse("a function", () => {}, T),
      refuse("holding a BigInt", { n: 1n }, T),
    ],
    "state.extra": [
      refuse("a string", "queue", T),
      refuse("a tensor of a NaN dimension", { q: { dtype: "F32", shape: [NaN], data: new Float32Array(1) } }),
      refuse("a tensor of a plain array", { q: { dtype: "F32", shape: [2], data: [1, 2] } }, T),
    ],
  };
  const datasetRows = [
    ...object(),
    refuse("an object", {}, T),
    refuse("labels out of range", { ...train, labels: new Uint8Array(40).fill(2) }),
    refuse("pixels of another type", { ...train, images: Array.from(train.images) }, T),
  ];
  /** Config fields, checked before any GPU work; `config` reads the resolved config from what the call returns. */
  const configRows = (config: (result: Any) => { augment: Any; seed: number }): Record<string, Case[]> => ({
    config: object({ optional: true }),
    "config.dims": [
      refuse("a string", "4,8", T),
      refuse("another first width", [5, 8]),
      refuse("one width", [4]),
      refuse("a NaN width", [4, NaN]),
      refuse("a zero width", [4, 0]),
    ],
    "config.mode": choice(["pairs", "simclr", "supcon"], { optional: true }),
    "config.activation": choice(["relu", "gelu", "tanh"], { optional: true }),
    "config.batch": int(2, Infinity, { optional: true }),
    "config.kMax": int(1, 7, { optional: true }),
    "config.queue": [
      ...int(0, 1 << 20, { optional: true }),
      refuse("fewer than a batch of positives", 4),
    ],
    "config.steps": int(1, Infinity, { optional: true }),
    "config.seed": [
      ...seed({ optional: true }),
      accept("a negative", -5, "any finite number: its low 32 bits are used", (r) => assert.equal(config(r).seed, -5)),
    ],
    "config.lr": real([0, -1, 1e300], { optional: true }),
    "config.lambda": real([0, -1, 1.5], { optional: true }),
    "config.labelNoise": real([-0.1, 1], { optional: true }),
    "config.excludeSameLabel": BOOL,
    "config.metricsEvery": int(1, Infinity, { optional: true }),
    "config.evalSizes": [
      refuse("a string", "x", T),
      refuse("a bank below k", { bank: 5, queries: 1 }),
      refuse("a bank above the training rows", { bank: 41, queries: 10 }),
      refuse("a NaN k", { bank: 20, queries: 10, k: NaN }),
    ],
    "config.schedule": [
      refuse("a string", "fixed", T),
      refuse("without kind", {}, T),
      refuse("a prototype kind", { kind: "toString" }),
      refuse("a fixed K that is NaN", { kind: "fixed", k: NaN }),
    ],
    "config.loss": [
      refuse("a string", "infonce", T),
      refuse("a number", 3, T),
      refuse("a layout (the trainer sets it)", { layout: "views" }),
      refuse("an index table (the trainer sets it)", { indices: [0] }),
    ],
    "config.loss.tau": real([0, -1, 1e300], { optional: true }),
    "config.loss.weighting": [refuse("a number", 3, T), refuse("an unknown name", "nce")],
    "config.optimizer": [refuse("a string", "adam", T), refuse("a number", 3, T)],
    "config.optimizer.kind": choice(["sgd", "adam", "adamw"]),
    "config.optimizer.clipNorm": real([0, -1], { optional: true }),
    "config.augment": [
      refuse("a string", "warp", T),
      refuse("a negative rotation", { rotate: -1 }),
      refuse("a NaN shear", { shear: NaN }),
      accept("a crop without size", { crop: [0.5, 1] }, "the size is data.train.imageShape", (r) => {
        assert.deepEqual(config(r).augment.size, [2, 2]);
      }),
    ],
    "config.photometric": [
      refuse("a string", "noise", T),
      refuse("without augment", { noise: 0.1 }, T, / as config\.augment must be given when config\.photometric is/),
    ],
  });
  const stepParts = () => ({
    "parts.store": built.store,
    "parts.query": built.encoder,
    "parts.candidate": built.encoder,
    "parts.xq": f.t([2, 4]),
    "parts.xc": f.t([6, 4]),
    "options.loss.kMax": 2,
    "options.loss.indices": [0, 1, 2, 1, 2, 3],
    "options.optimizer.kind": "adam",
    "options.optimizer.lr": 0.01,
  });
  const trainerConfig = {
    "config.dims": [4, 8],
    "config.batch": 8,
    "config.kMax": 4,
    "config.steps": 10,
    "config.evalSizes": { bank: 20, queries: 10 },
    "config.optimizer.kind": "adam",
  };
  const newStep = (a: Args) => new TrainingStep(a.gpu as Gpu, arg(a, "parts"), arg(a, "options"));
  /** A TrainingStep in the views layout (NT-Xent; SupCon adds its options). */
  const viewsArgs = (): Args => ({
    gpu: f.gpu,
    "parts.store": built.store,
    "parts.query": built.encoder,
    "parts.xq": f.t([4, 4]),
    "options.loss.layout": "views",
    "options.optimizer.kind": "sgd",
    "options.optimizer.lr": 0.1,
  });
  // knnEvaluate and knnEvaluateOnGpu take the same arguments and refuse the same values.
  const knnBank = new Float32Array([1, 0, 0, 1, -1, 0]);
  const knnQueries = new Float32Array([1, 0.1]);
  const knn = {
    args: (): Args => ({
      bank: knnBank.slice(),
      bankLabels: [0, 1, 0],
      queries: knnQueries.slice(),
      queryLabels: [0],
      dim: 2,
      "options.k": 1,
    }),
    call: (a: Args) =>
      [a.bank, a.bankLabels, a.queries, a.queryLabels, a.dim, arg(a, "options")] as Parameters<typeof knnEvaluate>,
    good: (r: Any) => assert.deepEqual([r.accuracy, r.queries, r.bank], [1, 1, 3]),
    bad: {
      bank: typed(knnBank, [Float64Array], { element: ["a NaN embedding", NaN] }),
      bankLabels: [refuse("a number", 3, T), ...missing(true), refuse("empty (no bank)", [])],
      queries: typed(knnQueries, [Float64Array], { element: ["an Infinity embedding", Infinity] }),
      queryLabels: [refuse("a number", 3, T), ...missing(true), refuse("empty (accuracy over none is 0/0)", [])],
      dim: int(1),
      options: object({ optional: true }),
      "options.k": int(1, 3, { optional: true }),
      "options.recallAt": [
        refuse("a string", "1", T),
        refuse("a zero rank", [0]),
        refuse("a rank past the bank", [4]),
        refuse("a NaN rank", [NaN]),
        refuse("a non-integer rank", [1.5]),
        refuse("a string rank", ["1"], T),
      ],
    },
  };
  // Matmul tuning caches: one of this adapter, one of another, one that breaks a rule, in f.dir; the default folder
  // (defaultTuningCacheDir) is moved into f.dir by $NCEGPU_CACHE_DIR around the calls that may use it.
  const tuning = {
    file: `${f.dir}/tuning.json`,
    otherAdapter: `${f.dir}/tuning-other-adapter.json`,
    broken: `${f.dir}/tuning-broken.json`,
    saved: `${f.dir}/tuning-saved.json`,
    trainer: `${f.dir}/tuning-trainer.json`,
    defaults: { load: `${f.dir}/default-load`, save: `${f.dir}/default-save`, trainer: `${f.dir}/default-trainer` },
  };
  const cacheOf = (record: Any) => JSON.stringify({ ...matmulTuningRecord(f.gpu), choices: {}, ...record });
  await Deno.writeTextFile(tuning.file, cacheOf({ choices: { [TUNED]: "reg4x4" } }));
  const otherAdapter = { ...matmulTuningRecord(f.gpu).adapter, description: "another adapter" };
  await Deno.writeTextFile(tuning.otherAdapter, cacheOf({ adapter: otherAdapter, choices: { [TUNED]: "reg4x4" } }));
  await Deno.writeTextFile(tuning.broken, cacheOf({ version: 2 }));
  const notACache = refuse(
    "a safetensors file",
    `${f.dir}/w.safetensors`,
    Error,
    /w\.safetensors is not a matmul tuning/,
  );
  const brokenCache = refuse(
    "a cache that breaks a rule",
    tuning.broken,
    Error,
    /record\.version must be 1.*delete it/,
  );
  const savedWith = { [TUNED]: "reg4x4" };
  /** Saves with `savedWith` in gpu.tuning, and the default folder in f.dir. */
  const save = (a: Args) =>
    withEnv({ NCEGPU_CACHE_DIR: tuning.defaults.save }, async () => {
      f.gpu.tuning.set(TUNED, savedWith[TUNED]);
      try {
        return await saveMatmulTuning(a.gpu as Gpu, a.path as string);
      } finally {
        f.gpu.tuning.delete(TUNED);
      }
    });
  const savedRecord = async (path: string) => {
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), { ...matmulTuningRecord(f.gpu), choices: savedWith });
  };
  /** The trainer's config fields that new Trainer refuses (what it accepts, its own door checks). */
  const refusedConfigRows = Object.fromEntries(
    Object.entries(configRows(() => ({ augment: {}, seed: 0 }))).map(([name, cases]) => [
      name,
      cases.filter((c) => "expect" in c),
    ]),
  );
  const probeTrain = new Float32Array([1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9]);
  const probeTest = new Float32Array([0.8, 0.2, 0.2, 0.8]);
  return [
    {
      name: "new TrainingStep(gpu, parts, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, ...stepParts() }),
      call: newStep,
      good: (s) => assert.equal(s.step, 0),
      free: destroy,
      // An input the encoder's first layer does not accept is named by that layer ("input width").
      names: { "parts.xq": / as (parts\.xq[ .]|input width )/, "parts.xc": / as (parts\.xc[ .]|input width )/ },
      bad: {
        gpu: gpuArg(f),
        parts: object(),
        "parts.store": [
          ...object(),
          refuse("an object", {}, T),
          refuse("not built", unbuilt.store, R),
          refuse("of another Gpu", otherStore, T),
        ],
        "parts.query": encoders,
        "parts.candidate": encoders,
        "parts.xq": tensorArg(f, [2, 4], "f32", [[2, 5], [8]]),
        "parts.xc": tensorArg(f, [6, 4], "f32", [[6, 5], [24]]),
        "parts.queue": [
          refuse("a string", "queue", T),
          refuse("an object", {}, T),
          refuse("of another width", queues.narrow, R),
          refuse("smaller than the candidates of a step", queues.small, R),
          refuse("destroyed", queues.dead, T),
          accept("a queue of the encoders' width", queues.good, "each step pushes its candidates into it", (s) => {
            assert.equal(s.step, 0);
          }),
        ],
        "parts.gather": [
          refuse("a string", "gather", T),
          refuse("without query", {}, T),
          refuse("a query that is not Encodable", { query: {} }, T),
          refuse("a candidate that is not Encodable", { query: { encode() {} }, candidate: "x" }, T),
        ],
        options: object(),
        "options.metricsEvery": int(1, Infinity, { optional: true }),
        "options.ring": int(1, 64, { optional: true }),
        "options.counts": [
          ...BOOL,
          accept("true", true, "the rank counts are read too", (s) => assert.equal(s.step, 0)),
        ],
        "options.loss": object(),
        "options.loss.layout": choice(["views"], { optional: true }),
        "options.loss.kMax": int(1, 65535),
        "options.loss.k": int(1, 2, { optional: true }),
        "options.loss.tau": real([0, -1, 1e300], { optional: true }),
        "options.loss.weighting": [refuse("a number", 3, T), refuse("an unknown name", "nce")],
        "options.loss.indices": [
          ...integers([0, 1, 2, 1, 2, 3], 0, 5, { optional: true }),
          refuse("the wrong length", [0, 1]),
        ],
        "options.loss.queue": tensorArg(f, [4, 3], "f32", [[4, 2]], { optional: true }),
        "options.optimizer": object(),
        "options.optimizer.kind": choice(["sgd", "adam", "adamw"]),
        "options.optimizer.lr": [...real([0, -1, 1e300]), refuse("a string", "fast", T)],
        "options.optimizer.clipNorm": real([0, -1], { optional: true }),
      },
    },
    {
      name: "new TrainingStep(…) in the views layout with SupCon",
      gpu: true,
      args: () => ({ ...viewsArgs(), "options.loss.supcon": true, "options.loss.labels": [0, 1, 0, 1] }),
      call: newStep,
      good: (s) => assert.ok(s.loss instanceof SupConLoss),
      free: destroy,
      bad: {
        "parts.xq": tensorArg(f, [4, 4], "f32", [[1, 4]]),
        "options.loss.supcon": [
          ...BOOL,
          accept("false", false, "NT-Xent (labels unused)", (s) => assert.ok(s.loss instanceof NtXentLoss)),
        ],
        "options.loss.tile": [refuse("not a multiple of 64", 100), refuse("a string", "64", T), refuse("NaN", NaN)],
        "options.loss.weighting": [refuse("DCL, which SupCon refuses", "dcl"), refuse("a number", 3, T)],
        "options.loss.labels": [
          ...integers([0, 1, 0, 1], 0, 2 ** 32 - 1, { optional: true }),
          refuse("the wrong length", [0, 1]),
        ],
      },
    },
    {
      name: "new TrainingStep(…) in the views layout with NT-Xent",
      gpu: true,
      args: viewsArgs,
      call: newStep,
      good: (s) => assert.ok(s.loss instanceof NtXentLoss),
      free: destroy,
      bad: {
        "parts.xq": tensorArg(f, [4, 4], "f32", [[3, 4], [2, 4]]),
        "options.loss.tile": [refuse("not a multiple of 64", 100), refuse("below 64", 32)],
      },
    },
    {
      name: "new Trainer(gpu, data, config, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, "data.train": train, "data.test": test, ...trainerConfig }),
      call: (a) => new Trainer(a.gpu as Gpu, arg(a, "data"), arg(a, "config"), arg(a, "options")),
      good: (t) => assert.deepEqual([t.stepsDone, t.config.dims], [0, [4, 8]]),
      free: destroy,
      bad: {
        gpu: gpuArg(f),
        data: object(),
        "data.train": datasetRows,
        "data.test": [...datasetRows, refuse("another width", images(20, 3, 2), R, / as data\.test\.width must be/)],
        ...configRows((t: Trainer) => t.config),
        options: object({ optional: true }),
        "options.recovery": [
          refuse("a string", "x", T),
          refuse("a number", 3, T),
          refuse("true", true, T),
          accept("false", false, "no recovery from a lost device", (t) => assert.equal(t.stepsDone, 0)),
        ],
        "options.recovery.snapshotEvery": int(1, Infinity, { optional: true }),
        "options.recovery.attempts": int(1, Infinity, { optional: true }),
        "options.recovery.requestGpu": [refuse("a string", "x", T), refuse("an object", {}, T)],
      },
    },
    {
      name: "trainer.saveBytes()",
      args: () => ({ "the trainer": trainer }),
      call: (a) => (a["the trainer"] as Trainer).saveBytes(),
      good: (bytes) => assert.deepEqual(bytes, trainerBytes),
      bad: { "the trainer": [refuse("destroyed", deadTrainer, T)] },
    },
    {
      name: "trainer.save(path)",
      gpu: true,
      args: () => ({ "the trainer": trainer, path: `${f.dir}/trainer-save.safetensors` }),
      call: (a) => (a["the trainer"] as Trainer).save(a.path as string),
      good: async () => assert.deepEqual(await Deno.readFile(`${f.dir}/trainer-save.safetensors`), trainerBytes),
      bad: {
        "the trainer": [refuse("destroyed", deadTrainer, T)],
        path: [
          ...string({ nonEmpty: true }),
          refuse("in a missing folder", `${f.dir}/none/trainer.safetensors`, Deno.errors.NotFound),
        ],
      },
    },
    {
      name: "trainer.resumeBytes(bytes, source)",
      gpu: true,
      args: () => ({ "the trainer": trainer, bytes: trainerBytes, source: "doors" }),
      call: (a) => (a["the trainer"] as Trainer).resumeBytes(a.bytes as Uint8Array, a.source as string),
      good: () => assert.equal(trainer.stepsDone, 0),
      bad: {
        "the trainer": [refuse("destroyed", deadTrainer, T)],
        bytes: [
          refuse("a string", "bytes", T),
          ...missing(true),
          refuse("a plain array", Array.from(trainerBytes), T),
          refuse("truncated", new Uint8Array(3), CheckpointError, /^doors: truncated/),
          refuse("a checkpoint without a trainer's state", checkpointFile, CheckpointError, /^doors: holds no trainer/),
          refuse("another run's", otherTrainerBytes, R, / as config\.\w+ must be the checkpoint's/),
        ],
        source: string({ optional: true }),
      },
    },
    {
      name: "trainer.resume(path)",
      gpu: true,
      args: () => ({ "the trainer": trainer, path: trainerFile }),
      call: (a) => (a["the trainer"] as Trainer).resume(a.path as string),
      good: () => assert.equal(trainer.stepsDone, 0),
      bad: {
        "the trainer": [refuse("destroyed", deadTrainer, T)],
        path: [
          ...string({ nonEmpty: true }),
          refuse("missing", `${f.dir}/none.safetensors`, CheckpointError, /none\.safetensors: cannot be read/),
          refuse("a checkpoint without a trainer's state", checkpoint, CheckpointError, /holds no trainer/),
        ],
      },
    },
    {
      name: "resolveTrainerConfig(config, train, test)",
      args: () => ({ train, test, ...trainerConfig }),
      call: (a) => resolveTrainerConfig(arg(a, "config"), a.train as LabelledBytes, a.test as LabelledBytes),
      good: (c) => assert.deepEqual([c.batch, c.kMax], [8, 4]),
      // The trainer's config: the datasets are named as the trainer's data.
      names: { train: / as data\.train[ .]/, test: / as data\.test[ .]/ },
      bad: {
        config: [refuse("null", null, T), refuse("a string", "x", T), refuse("a number", 3, T)],
        train: datasetRows,
        test: [
          ...datasetRows.filter((c) => c.value !== undefined),
          refuse("another width", images(20, 3, 2)),
          accept("absent", undefined, "the training set is the test set", (c) => assert.equal(c.evalSizes.queries, 10)),
        ],
        ...configRows((c) => c),
      },
    },
    {
      name: "new Embedder(gpu, encoder, datasets, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, encoder: built.encoder, "datasets.train": dataset, "options.chunk": 2 }),
      call: (a) => new Embedder(a.gpu as Gpu, a.encoder as Sequential, arg(a, "datasets"), arg(a, "options")),
      good: (e) => assert.equal(e.dim, 3),
      free: destroy,
      bad: {
        gpu: [
          ...gpuArg(f),
          refuse("another Gpu", f.other, T, / as datasets\.train must be a DeviceDataset of the same/),
        ],
        encoder: [
          refuse("a string", "mlp", T),
          refuse("null", null, T),
          refuse("undefined", undefined, T),
          refuse("an object", {}, T),
          refuse("on a store not built", unbuilt.encoder, R, notBuilt),
        ],
        datasets: [
          refuse("null", null, T),
          refuse("a string", "train", T),
          refuse("empty", {}),
          refuse("a value that is not a dataset", { train: "x" }, T),
          refuse("datasets of two widths", { train: dataset, wide }),
        ],
        options: object({ optional: true }),
        "options.chunk": int(1, Infinity, { optional: true }),
      },
    },
    {
      name: "embedder.embed(name, rows)",
      args: () => ({ "the embedder": embedder, name: "train", rows: [0, 2, 1] }),
      call: (a) => (a["the embedder"] as Embedder<"train">).embed(a.name as "train", a.rows as number[]),
      good: (z) => assert.equal(z.length, 9),
      bad: {
        "the embedder": [refuse("destroyed", deadEmbedder, T)],
        name: [
          ...string(),
          refuse("unknown", "test"),
          refuse("a prototype key", "toString"),
          refuse("__proto__", "__proto__"),
        ],
        rows: [
          ...integers([0, 2, 1], 0, 2),
          accept("none", [], "no row, no embedding", (z) => assert.equal(z.length, 0)),
        ],
      },
    },
    {
      name: "knnEvaluate(bank, bankLabels, queries, queryLabels, dim, options)",
      args: knn.args,
      call: (a) => knnEvaluate(...knn.call(a)),
      good: knn.good,
      bad: knn.bad,
    },
    {
      name: "knnEvaluateOnGpu(gpu, bank, bankLabels, queries, queryLabels, dim, options)",
      gpu: true,
      args: () => ({ gpu: f.gpu, ...knn.args() }),
      call: (a) => knnEvaluateOnGpu(a.gpu as Gpu, ...knn.call(a)),
      good: knn.good,
      bad: { gpu: gpuArg(f), ...knn.bad },
    },
    {
      name: "linearProbe(train, trainLabels, test, testLabels, dim, classes, options)",
      args: () => ({
        train: probeTrain.slice(),
        trainLabels: [0, 0, 1, 1],
        test: probeTest.slice(),
        testLabels: [0, 1],
        dim: 2,
        classes: 2,
        "options.steps": 50,
      }),
      call: (a) =>
        linearProbe(
          a.train as Float32Array,
          a.trainLabels as number[],
          a.test as Float32Array,
          a.testLabels as number[],
          a.dim as number,
          a.classes as number,
          arg(a, "options"),
        ),
      good: (r) => assert.deepEqual([r.accuracy, r.trainAccuracy], [1, 1]),
      bad: {
        train: typed(probeTrain, [Float64Array], { element: ["a NaN feature", NaN] }),
        trainLabels: [...integers([0, 0, 1, 1], 0, 1), refuse("empty", [])],
        test: typed(probeTest, [Float64Array], { element: ["an Infinity feature", Infinity] }),
        testLabels: [...integers([0, 1], 0, 1), refuse("empty (accuracy over none is 0/0)", [])],
        dim: [...int(1), refuse("another width", 4, R, / as train\.length must be labels·dim = 16/)],
        classes: int(2),
        options: object({ optional: true }),
        "options.steps": int(1, Infinity, { optional: true }),
        "options.lr": real([0, -1], { optional: true }),
        "options.l2": [
          ...real([-1], { optional: true }),
          accept("zero", 0, "no penalty", (r) => assert.equal(r.accuracy, 1)),
        ],
      },
    },
    {
      name: "pixelEmbeddings(data, rows)",
      args: () => ({
        "data.images": new Uint8Array([3, 4, 0, 9]),
        "data.rows": 2,
        "data.width": 2,
        rows: [1, 0],
      }),
      call: (a) => pixelEmbeddings(arg(a, "data"), a.rows as number[]),
      good: (z) => assert.deepEqual(z, new Float32Array([0, 1, 0.6, 0.8])),
      bad: {
        data: object(),
        "data.rows": int(1),
        "data.width": int(1),
        "data.images": typed(new Uint8Array([3, 4, 0, 9])),
        rows: [
          ...integers([1, 0], 0, 1),
          accept("none", [], "no row, no embedding", (z) => assert.equal(z.length, 0)),
        ],
      },
    },
    {
      name: "saveCheckpoint(path, store, optimizer, state, hooks)",
      gpu: true,
      args: () => ({ path: `${f.dir}/save.safetensors`, store: built.store, optimizer: null, "state.step": 1 }),
      call: (a) =>
        saveCheckpoint(
          a.path as string,
          a.store as ParameterStore,
          a.optimizer as null,
          arg(a, "state"),
          arg(a, "hooks"),
        ),
      good: async () => assert.equal((await loadCheckpoint(`${f.dir}/save.safetensors`, built.store, null)).step, 1),
      bad: {
        path: [
          ...string({ nonEmpty: true }),
          refuse("in a missing folder", `${f.dir}/none/save.safetensors`, Deno.errors.NotFound),
        ],
        store: storeRows,
        optimizer: [
          ...optimizerRows,
          accept("the store's optimizer", adam, "its moments are saved too", async () => {
            const saved = await readSafetensors(`${f.dir}/save.safetensors`);
            assert.equal(saved.metadata.optimizer, "adam");
          }),
        ],
        ...stateRows,
        hooks: object({ optional: true }),
        "hooks.beforeRename": [refuse("a string", "x", T), refuse("an object", {}, T)],
      },
    },
    {
      name: "checkpointBytes(store, optimizer, state)",
      gpu: true,
      args: () => ({ store: built.store, optimizer: null, "state.step": 2, "state.rngState": 7 }),
      call: (a) => checkpointBytes(a.store as ParameterStore, a.optimizer as null, arg(a, "state")),
      good: (bytes) => assert.deepEqual(decodeSafetensors(bytes, "mem").metadata.rng_state, "7"),
      bad: { store: storeRows, optimizer: optimizerRows, ...stateRows },
    },
    {
      name: "loadCheckpoint(path, store, optimizer)",
      gpu: true,
      args: () => ({ path: checkpoint, store: built.store, optimizer: null }),
      call: (a) => loadCheckpoint(a.path as string, a.store as ParameterStore, a.optimizer as null),
      good: (state) => assert.equal(state.step, 3),
      bad: {
        path: [
          ...string({ nonEmpty: true }),
          refuse("missing", `${f.dir}/none.safetensors`, CheckpointError, /none\.safetensors: cannot be read/),
        ],
        store: storeRows,
        optimizer: [
          ...optimizerRows,
          refuse(
            "one it was not saved with",
            adam,
            CheckpointError,
            /saved with optimizer "none", loading into "adam"/,
          ),
        ],
      },
    },
    {
      name: "loadCheckpointBytes(bytes, store, optimizer, options)",
      gpu: true,
      args: () => ({ bytes: checkpointFile, store: built.store, optimizer: null, "options.source": "doors" }),
      call: (a) =>
        loadCheckpointBytes(a.bytes as Uint8Array, a.store as ParameterStore, a.optimizer as null, arg(a, "options")),
      good: (state) => assert.equal(state.step, 3),
      bad: {
        bytes: [
          ...typed(checkpointFile, [], { short: false }),
          refuse("truncated", new Uint8Array(3), CheckpointError, /^doors: truncated/),
          refuse("another format", safetensors, CheckpointError, /^doors: not an ncegpu checkpoint/),
        ],
        store: storeRows,
        optimizer: optimizerRows,
        options: object({ optional: true }),
        "options.source": string({ optional: true }),
      },
    },
    {
      name: "encodeSafetensors(tensors, metadata)",
      args: () => ({ "tensors.w": { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }, "metadata.step": "3" }),
      call: (a) => encodeSafetensors(arg(a, "tensors"), arg(a, "metadata")),
      good: (bytes) => assert.equal(decodeSafetensors(bytes, "mem").metadata.step, "3"),
      names: { "tensors.w": / as tensors\["w"\]/, "metadata.step": / as metadata\["step"\]/ },
      bad: {
        tensors: [refuse("null", null, T), refuse("a string", "w", T), refuse("a number", 3, T)],
        "tensors.w": [
          refuse("null", null, T),
          refuse("a string", "w", T),
          refuse("a dtype it does not write", { dtype: "F64", shape: [2], data: new Float32Array(2) }),
          refuse("a prototype dtype", { dtype: "toString", shape: [2], data: new Float32Array(2) }),
          refuse("data of another type", { dtype: "F32", shape: [2], data: [1, 2] }, T),
          refuse("a NaN dimension", { dtype: "F32", shape: [NaN], data: new Float32Array(2) }),
          refuse("a shape of another size", { dtype: "F32", shape: [3], data: new Float32Array(2) }),
        ],
        metadata: object({ optional: true }),
        "metadata.step": [refuse("a number", 3, T), refuse("null", null, T)],
      },
    },
    {
      name: "decodeSafetensors(bytes, path)",
      args: () => ({ bytes: safetensors, path: "mem" }),
      call: (a) => decodeSafetensors(a.bytes as Uint8Array, a.path as string),
      good: (x) => assert.deepEqual(Array.from(x.tensors.w.data), [1, 2]),
      bad: {
        bytes: [
          ...typed(safetensors, [], { short: false }),
          refuse("truncated", new Uint8Array(3), CheckpointError, /^mem: truncated/),
        ],
        path: string(),
      },
    },
    {
      name: "readSafetensors(path)",
      args: () => ({ path: `${f.dir}/w.safetensors` }),
      call: (a) => readSafetensors(a.path as string),
      good: (x) => assert.deepEqual(x.tensors.w.shape, [2]),
      bad: {
        path: [
          ...string({ nonEmpty: true }),
          refuse("missing", `${f.dir}/none.safetensors`, CheckpointError, /none\.safetensors: cannot be read/),
        ],
      },
    },
    {
      name: "defaultTuningCacheDir() (reads $NCEGPU_CACHE_DIR, $XDG_CACHE_HOME, $HOME)",
      args: () => ({
        environment: { NCEGPU_CACHE_DIR: `${f.dir}/cache`, XDG_CACHE_HOME: "/xdg", HOME: "/home/doors" },
      }),
      call: (a) => withEnv(a.environment as Args, defaultTuningCacheDir),
      good: (dir) => assert.equal(dir, `${f.dir}/cache`),
      bad: {
        environment: [
          accept(
            "an empty $NCEGPU_CACHE_DIR",
            { NCEGPU_CACHE_DIR: "", XDG_CACHE_HOME: "/xdg", HOME: "/home/doors" },
            "an empty variable is as unset: the next one is read",
            (dir) => assert.equal(dir, "/xdg/ncegpu"),
          ),
          accept(
            "only $HOME",
            { NCEGPU_CACHE_DIR: undefined, XDG_CACHE_HOME: undefined, HOME: "/home/doors" },
            "the XDG default",
            (dir) => assert.equal(dir, "/home/doors/.cache/ncegpu"),
          ),
          accept(
            "none of them",
            { NCEGPU_CACHE_DIR: undefined, XDG_CACHE_HOME: undefined, HOME: undefined },
            "a folder under the working one",
            (dir) => assert.equal(dir, ".ncegpu-cache"),
          ),
        ],
      },
    },
    {
      name: "tuningCachePath(gpu, dir)",
      args: () => ({ gpu: f.gpu, dir: `${f.dir}/cache` }),
      call: (a) => tuningCachePath(a.gpu as Gpu, a.dir as string),
      good: (path) => assert.match(path, new RegExp(`^${escape(f.dir)}/cache/matmul-[a-z0-9]+(-[a-z0-9]+)*\\.json$`)),
      bad: {
        gpu: [
          ...gpuArg(f),
          accept("another context of the adapter", f.other, "one file per adapter", (path) => {
            assert.equal(path, tuningCachePath(f.gpu, `${f.dir}/cache`));
          }),
        ],
        dir: [
          ...string({ nonEmpty: true, optional: true }),
          refuse("null", null, T),
          accept("absent", undefined, "defaultTuningCacheDir()", (path) => {
            assert.ok(path.startsWith(`${defaultTuningCacheDir()}/matmul-`), path);
          }),
        ],
      },
    },
    {
      name: "loadMatmulTuning(gpu, path)",
      args: () => ({ gpu: f.gpu, path: tuning.file }),
      call: (a) =>
        withEnv({ NCEGPU_CACHE_DIR: tuning.defaults.load }, () => loadMatmulTuning(a.gpu as Gpu, a.path as string)),
      good: (applied) => assert.deepEqual([applied, f.gpu.tuning.get(TUNED)], [1, "reg4x4"]),
      free: () => f.gpu.tuning.delete(TUNED),
      bad: {
        gpu: gpuArg(f),
        path: [
          ...string({ nonEmpty: true, optional: true }),
          refuse("null", null, T), // not "absent": null never means the user's default cache
          notACache,
          brokenCache,
          ...([
            ["missing", `${f.dir}/none.json`, "no cache yet"],
            ["another adapter's", tuning.otherAdapter, "its timings say nothing here"],
            ["absent", undefined, "the adapter's file in defaultTuningCacheDir(), none yet"],
          ] as const).map(([label, path, why]) =>
            accept(label, path, `${why}: nothing applied`, (applied) => {
              assert.deepEqual([applied, f.gpu.tuning.has(TUNED)], [0, false]);
            })
          ),
        ],
      },
    },
    {
      // Called with one choice in gpu.tuning.
      name: "saveMatmulTuning(gpu, path)",
      args: () => ({ gpu: f.gpu, path: tuning.saved }),
      call: save,
      good: () => savedRecord(tuning.saved),
      bad: {
        gpu: gpuArg(f),
        path: [
          ...string({ nonEmpty: true, optional: true }),
          accept("in a missing folder", `${f.dir}/new/tuning.json`, "its folder is created", () => {
            return savedRecord(`${f.dir}/new/tuning.json`);
          }),
          refuse("null", null, T), // not "absent": a null path must never overwrite the user's default cache
          accept("absent", undefined, "the adapter's file in defaultTuningCacheDir()", async () => {
            const file = tuningCachePath(f.gpu, tuning.defaults.save);
            await savedRecord(file);
            removeIfThere(file);
          }),
        ],
      },
    },
    {
      // On the second context, whose only multiplies are the trainer's: the tuning measures those alone.
      name: "tuneTrainer(gpu, data, config, options)",
      gpu: true,
      args: () => ({
        gpu: f.other,
        "data.train": train,
        "data.test": test,
        ...trainerConfig,
        "options.cache": tuning.trainer,
        "options.iterations": 1,
      }),
      call: (a) =>
        withEnv(
          { NCEGPU_CACHE_DIR: tuning.defaults.trainer },
          () => tuneTrainer(a.gpu as Gpu, arg(a, "data"), arg(a, "config"), arg(a, "options")),
        ),
      good: async (r) => {
        assert.deepEqual([r.path, r.loaded], [tuning.trainer, 0]);
        assert.ok(r.trials.length > 0, "the trainer's classes measured");
        const bound = boundMatmuls(f.other);
        assert.ok(bound.length > 0);
        for (const b of bound) assert.ok(f.other.tuning.has(b.key), `${b.key} chosen`);
        const saved = JSON.parse(await Deno.readTextFile(tuning.trainer));
        assert.deepEqual(saved, matmulTuningRecord(f.other));
        // A second run reads every choice and measures nothing.
        f.other.tuning.clear();
        const data = { train, test };
        const again = await tuneTrainer(f.other, data, arg(trainerConfig, "config"), { cache: tuning.trainer });
        assert.deepEqual([again.loaded, again.trials], [Object.keys(saved.choices).length, []]);
      },
      free: () => {
        f.other.tuning.clear();
        removeIfThere(tuning.trainer);
      },
      bad: {
        gpu: gpuArg(f),
        data: object(),
        "data.train": datasetRows,
        "data.test": [...datasetRows, refuse("another width", images(20, 3, 2), R, / as data\.test\.width must be/)],
        ...refusedConfigRows,
        options: object({ optional: true }),
        "options.cache": [
          ...string({ nonEmpty: true, optional: true }),
          notACache,
          brokenCache,
          accept("null", null, "measure every time, write nothing", async (r) => {
            assert.deepEqual([r.path, r.loaded, await isFile(tuning.trainer)], [null, 0, false]);
            assert.ok(r.trials.length > 0);
          }),
          accept("absent", undefined, "the adapter's file in defaultTuningCacheDir()", async (r) => {
            const file = tuningCachePath(f.other, tuning.defaults.trainer);
            assert.deepEqual([r.path, await isFile(file)], [file, true]);
            removeIfThere(file);
          }),
        ],
        "options.iterations": int(1, Infinity, { optional: true }),
        "options.variants": [
          ...variantLists,
          accept("one variant", ["reg4x4"], "every class chosen among it", (r) => {
            assert.ok(r.trials.length > 0 && r.trials.every((t: { variant: string }) => t.variant === "reg4x4"));
          }),
        ],
      },
    },
    {
      name: "svgCharts(records, evals, title)",
      args: () => ({ records: [record, { ...record, step: 2 }], evals: [{ step: 2, accuracy: 0.5 }], title: "doors" }),
      call: (a) => svgCharts(a.records as (typeof record)[], a.evals as [], a.title as string),
      good: (svg) => assert.match(svg, /^<svg/),
      bad: { records, evals, title: string() },
    },
    {
      name: "terminalCharts(records, evals, options)",
      args: () => ({ records: [record, { ...record, step: 2 }], evals: [{ step: 2, accuracy: 0.5 }] }),
      call: (a) => terminalCharts(a.records as (typeof record)[], a.evals as [], arg(a, "options")),
      good: (text) => assert.match(text, /loss/),
      bad: {
        records: [
          ...records,
          accept("none", [], "nothing to draw yet (documented)", (t) => assert.equal(t, "(no metrics yet)")),
        ],
        evals,
        options: object({ optional: true }),
        "options.width": int(1, 1000, { optional: true }),
        "options.height": int(1, 1000, { optional: true }),
        "options.color": BOOL,
      },
    },
  ];
}

Deno.test({
  name: "training, evaluation, checkpoints and charts refuse bad input by name, before any GPU work",
  ...gpuTest,
  fn: (t) => runDoors(t, trainingDoors),
});

// ---------------------------------------------------------------------------------------------------------------
// Every runtime export has a door; nothing leaked; no GPU error is pending.

/** Exports with no door, and why. */
const NOT_DOORS: Record<string, string> = {
  GpuError: "an error class: any value becomes message text",
  DeviceLostError: "an error class",
  NoAdapterError: "an error class",
  OutOfMemoryError: "an error class",
  IdxError: "an error class",
  CheckpointError: "an error class",
  NonFiniteLossError: "an error class",
  MATMUL_VARIANTS: "a frozen table, not callable",
  MATMUL_FORMS: "a frozen list, not callable",
  TRAINER_TUNING_VARIANTS: "a frozen list, not callable",
  WARP_FLOATS: "a constant",
  COLUMN_CHUNK: "a constant",
  FASHION_MNIST_DIR: "a constant",
  MNIST_FILES: "a frozen table, not callable",
  FASHION_MNIST_MERGES: "a frozen table, not callable",
  PHOTOMETRIC_FLOATS: "a constant",
};

const GROUPS = [
  tensorDoors,
  kernelDoors,
  lossDoors,
  layerDoors,
  dataDoors,
  samplerDoors,
  scheduleDoors,
  trainingDoors,
];

Deno.test({
  name: "every runtime export of mod.ts has a door, and the table leaks nothing and leaves no GPU error",
  ...gpuTest,
  async fn() {
    const f = await getFixtures();
    const doors = (await Promise.all(GROUPS.map((group) => group(f)))).flat();
    const uncovered = Object.keys(mod).filter((name) =>
      !Object.hasOwn(NOT_DOORS, name) && !doors.some((door) => new RegExp(`\\b${name}\\b`).test(door.name))
    );
    assert.deepEqual(uncovered, [], "exports without a door");
    const cases = doors.flatMap((door) => Object.values(door.bad).flat());
    const refused = cases.filter((c) => "expect" in c).length;
    const args = doors.reduce((n, door) => n + Object.keys(door.bad).length, 0);
    const kinds = new Set(cases.map((c) => c.label)).size;
    console.log(
      `bad input at every door: ${doors.length} entry points × ${(cases.length / doors.length).toFixed(1)} bad ` +
        `values each (${kinds} kinds, over ${args} arguments) = ${cases.length} rows: ${refused} refused, ` +
        `${cases.length - refused} accepted; and ${doors.length} valid calls`,
    );
    await f.gpu.sync("doors");
    await f.other.sync("doors");
    for (const x of f.owned.reverse()) x.destroy();
    f.gpu.trimPool();
    assert.equal(f.gpu.counters.liveBuffers, f.liveBefore, "buffers left alive by the table (a leak)");
    f.other.destroy();
    await Deno.remove(f.dir, { recursive: true });
  },
});
