/**
 * The GPU tests in a real browser: bundles the test files that need no files
 * for the browser (with test/browser/_harness.ts standing in for `Deno.test`
 * and test/browser/_assert.ts for `node:assert/strict`), serves the bundle on
 * 127.0.0.1, runs it in headless Chromium (WebGPU on Dawn; SwiftShader when
 * there is no GPU) over the DevTools protocol, one test at a time, and
 * reports each test and a Deno-style summary line (`ok | N passed | 0 failed`). `--filter TEXT` (repeatable)
 * runs only the tests whose name or file contains one of the texts.
 * Exits non-zero when a test fails or Chromium is missing: it never skips.
 *
 *   deno run --allow-read --allow-write --allow-env --allow-run --allow-net test/browser/run.ts [--filter TEXT]
 *
 * Tests that need Deno (files, subprocesses) stay Deno-only: whole files in
 * `DENO_ONLY_FILES`, single tests in `DENO_ONLY`, each with the reason. The
 * runner fails when a test named there no longer exists, or when a test file
 * that uses the GPU is in neither list, so the lists cannot go stale.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { denoBundle } from "../../examples/web/build.ts";
import { Chromium, ChromiumMissingError } from "./_chromium.ts";
import type { TestResult } from "./_harness.ts";

/** The test files bundled for the browser, in the order they run (the order of `deno test`). */
export const BROWSER_FILES: readonly string[] = [
  "test/gpu/device_test.ts",
  "test/gpu/kernel_test.ts",
  "test/losses/nt_xent_test.ts",
  "test/losses/supcon_test.ts",
  "test/losses/weighting_test.ts",
  "test/nn/embedding_test.ts",
  "test/nn/layers_test.ts",
  "test/ops/activation_test.ts",
  "test/ops/contrast_test.ts",
  "test/ops/contrast_rows_test.ts",
  "test/ops/gather_test.ts",
  "test/ops/knn_test.ts",
  "test/ops/l2norm_test.ts",
  "test/ops/matmul_test.ts",
  "test/ops/matmul_tuning_test.ts",
  "test/ops/reduce_test.ts",
  "test/optim/optimizer_test.ts",
  "test/sampling/queue_test.ts",
  "test/train/checkpoint_bytes_test.ts",
  "test/train/eval_test.ts",
  "test/train/step_test.ts",
  "test/train/trainer_test.ts",
];

/** GPU test files that stay Deno-only as a whole, and why. */
export const DENO_ONLY_FILES: Readonly<Record<string, string>> = {
  "test/browser/web_page_test.ts": "drives Chromium itself (the demo page), from Deno",
  "test/data/fashion_mnist_test.ts": "reads the Fashion-MNIST IDX files from disk and writes temporary ones",
  "test/mod_test.ts":
    "the door table of mod.ts, whose file doors (readIdx, loadMnistFiles, saveCheckpoint, Trainer.save) write " +
    "temporary files; src/web.ts's doors are the same functions, checked here in Deno",
  "test/train/checkpoint_test.ts": "saves and loads checkpoint files (atomic rename, crash between write and rename)",
  "test/train/tuning_cache_test.ts": "writes and reads the matmul tuning cache files (src/train/tuning_cache.ts)",
  "test/train/checkpoint_kill_test.ts": "spawns a Deno child process and kills it with SIGKILL while it saves",
};

/** Tests of the bundled files that stay Deno-only, and why. */
export const DENO_ONLY: Readonly<Record<string, string>> = {
  "tiled in-batch InfoNCE runs at 2B = 16,384 × 128-d in far less memory than the 1 GiB score matrix":
    "102 s on SwiftShader, over half the browser run's budget; the 2B = 4,096 tiled test runs the same kernels here",
  "Trainer.save writes to the file exactly the bytes Trainer.saveBytes returns, and resume reads them back":
    "writes and reads a checkpoint file",
  "a run resumed from a checkpoint repeats the uninterrupted run's metrics and accuracy exactly":
    "saves and resumes through a checkpoint file (the byte path the page uses is tested in checkpoint_bytes_test.ts)",
  "a non-finite loss stops training at a named step and the last good checkpoint is left intact":
    "writes, corrupts and reads checkpoint files",
};

/** Seconds one test may take in the browser before it fails. */
const TEST_TIMEOUT_MS = 120_000;

const root = new URL("../../", import.meta.url);

/** Test files that use the GPU (they call `testGpu` or `requestGpu`) but are in neither list. */
async function unlistedGpuFiles(): Promise<string[]> {
  const unlisted: string[] = [];
  const walk = async (folder: string) => {
    for await (const entry of Deno.readDir(new URL(folder, root))) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith("_test.ts") && !BROWSER_FILES.includes(path) && !(path in DENO_ONLY_FILES)) {
        if (/\b(testGpu|requestGpu)\(/.test(await Deno.readTextFile(new URL(path, root)))) unlisted.push(path);
      }
    }
  };
  await walk("test");
  return unlisted.sort();
}

/** Writes the bundle entry and its import map to `dir`, bundles, and returns the bundle's path. */
async function bundleTests(dir: string, files: readonly string[]): Promise<string> {
  const harness = new URL("test/browser/_harness.ts", root).href;
  // Each test file is preceded by a one-line module that tells the harness which file registers next.
  const lines = [`import ${JSON.stringify(harness)};`];
  for (const [i, file] of files.entries()) {
    await Deno.writeTextFile(
      `${dir}/file_${i}.ts`,
      `import { enterFile } from ${JSON.stringify(harness)};\nenterFile(${JSON.stringify(file)});\n`,
    );
    lines.push(`import "./file_${i}.ts";`, `import ${JSON.stringify(new URL(file, root).href)};`);
  }
  await Deno.writeTextFile(`${dir}/entry.ts`, lines.join("\n") + "\n");
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const imports = { ...config.imports, "node:assert/strict": new URL("test/browser/_assert.ts", root).href };
  await Deno.writeTextFile(`${dir}/import_map.json`, JSON.stringify({ imports }));
  const out = `${dir}/tests.js`;
  await denoBundle(["--import-map", `${dir}/import_map.json`, "-o", out, `${dir}/entry.ts`], `${dir}/entry.ts`);
  return out;
}

/**
 * Serves `index.html`, the bundle and, read-only, the repository's shaders/*.wgsl (which kernel_test.ts and
 * matmul_test.ts read through the harness's `Deno.readTextFile`) on 127.0.0.1 (a secure context: WebGPU is there).
 */
function serve(bundle: string): Deno.HttpServer<Deno.NetAddr> {
  const page = `<!doctype html><meta charset="utf-8"><title>ncegpu tests</title>
<script type="module" src="/tests.js"></script>`;
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/") return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
    if (pathname === "/tests.js") {
      return new Response(await Deno.readFile(bundle), { headers: { "content-type": "text/javascript" } });
    }
    const shader = pathname.match(/^\/shaders\/(\w+\.wgsl)$/);
    if (shader) {
      const file = await Deno.readTextFile(new URL(`shaders/${shader[1]}`, root)).catch(() => null);
      if (file !== null) return new Response(file, { headers: { "content-type": "text/plain; charset=utf-8" } });
    }
    return new Response("not found", { status: 404 });
  });
}

function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
}

/** Runs the browser tests; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { filter: { type: "string", multiple: true } } });
  const began = performance.now();
  const summary = (passed: number, failed: number) =>
    `${failed ? "FAILED" : "ok"} | ${passed} passed | ${failed} failed (${duration(performance.now() - began)})`;
  const dir = await Deno.makeTempDir({ prefix: "ncegpu-browser-tests-" });
  let browser: Chromium | null = null;
  let server: Deno.HttpServer<Deno.NetAddr> | null = null;
  try {
    browser = await Chromium.launch(); // first: a missing Chromium fails before anything is bundled
    const unlisted = await unlistedGpuFiles();
    if (unlisted.length) {
      throw new Error(`GPU test files in neither BROWSER_FILES nor DENO_ONLY_FILES: ${unlisted.join(", ")}`);
    }
    const bundle = await bundleTests(dir, BROWSER_FILES);
    server = serve(bundle);
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    const ready = await page.evaluate<boolean>("typeof globalThis.__harness === 'object'");
    if (!ready) {
      throw new Error(`the test bundle did not load:\n${page.logs.map((l) => `${l.type}: ${l.text}`).join("\n")}`);
    }
    const adapter = await page.evaluate<Record<string, unknown>>(
      "navigator.gpu?.requestAdapter().then((a) => a ? { vendor: a.info.vendor, architecture: a.info.architecture } : null)",
    );
    const tests = await page.evaluate<{ file: string; name: string; ignore: boolean }[]>("__harness.list()");
    const names = new Set(tests.map((t) => t.name));
    const stale = Object.keys(DENO_ONLY).filter((name) => !names.has(name));
    if (stale.length) throw new Error(`DENO_ONLY names tests that do not exist: ${stale.join("; ")}`);

    const errors: { name: string; file: string; result: TestResult }[] = [];
    let passed = 0;
    let ignored = 0;
    let lastFile = "";
    const runs = (test: { file: string; name: string; ignore: boolean }) =>
      !(test.name in DENO_ONLY) && !test.ignore &&
      (!values.filter || values.filter.some((text) => test.name.includes(text) || test.file.includes(text)));
    for (const [index, test] of tests.entries()) {
      if (!runs(test)) continue;
      if (test.file !== lastFile) {
        const count = tests.filter((t) => t.file === test.file && runs(t)).length;
        console.log(
          `running ${count} tests from ./${test.file} in Chromium (${adapter?.vendor} ${adapter?.architecture})`,
        );
        lastFile = test.file;
      }
      let result: TestResult;
      try {
        result = await page.evaluate<TestResult>(`__harness.run(${index})`, TEST_TIMEOUT_MS);
      } catch (error) {
        result = { ok: false, ms: TEST_TIMEOUT_MS, error: (error as Error).message, steps: [], logs: [] };
      }
      const steps = result.steps.map((s) =>
        `${"  ".repeat(s.depth)}${s.name} ... ${s.ok ? "ok" : "FAILED"} (${duration(s.ms)})`
      );
      if (steps.length) {
        console.log(
          `${test.name} ...\n${steps.join("\n")}\n${test.name} ... ${result.ok ? "ok" : "FAILED"} (${
            duration(result.ms)
          })`,
        );
      } else console.log(`${test.name} ... ${result.ok ? "ok" : "FAILED"} (${duration(result.ms)})`);
      if (result.ok) passed++;
      else {
        errors.push({ name: test.name, file: test.file, result });
        if (result.error?.startsWith("timed out")) {
          // The page is still busy with it: the next test would queue behind it.
          const left = tests.slice(index + 1).filter(runs).length;
          console.log(`stopping: ${test.name} timed out; ${left} test(s) after it did not run`);
          break;
        }
      }
    }
    ignored = tests.filter((t) => t.ignore).length;

    if (errors.length) {
      console.log("\n ERRORS \n");
      for (const { name, file, result } of errors) {
        console.log(`${name} => ./${file}`);
        for (const s of result.steps.filter((s) => !s.ok)) console.log(`  step "${s.name}": ${s.error}`);
        console.log(`error: ${result.error}`);
        if (result.logs.length) {
          console.log(`------- output -------\n${result.logs.join("\n")}\n----- output end -----`);
        }
        console.log();
      }
    }
    const denoOnly = [
      ...Object.entries(DENO_ONLY_FILES).map(([file, why]) => `  ./${file} (all): ${why}`),
      ...Object.entries(DENO_ONLY).map(([name, why]) => `  "${name}": ${why}`),
    ];
    console.log(`\nDeno-only (they run in deno test, not in the page):\n${denoOnly.join("\n")}`);
    if (ignored) console.log(`${ignored} test(s) marked ignore in their files`);
    console.log(summary(passed, errors.length));
    return errors.length ? 1 : 0;
  } catch (error) {
    if (error instanceof ChromiumMissingError) console.error(`error: ${error.message}`);
    else console.error(`error: the browser test run failed: ${(error as Error).stack ?? error}`);
    if (browser?.stderr) console.error(`Chromium's stderr (last lines):\n${browser.stderr}`);
    console.log(summary(0, 1));
    return 1;
  } finally {
    await browser?.close();
    await server?.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
