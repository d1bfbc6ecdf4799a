/**
 * The demo page (examples/web/) as a person sees it, in headless Chromium:
 * it trains a fixed number of steps, shows its charts and an accuracy above
 * raw pixels' on the same split; its downloaded checkpoint resumes in Deno to
 * the same bytes, and a checkpoint Deno saved uploads into it and reads back
 * the same bytes; Stop and Continue work; without WebGPU it says so. A screenshot of the trained page
 * is written to a temporary file that stays (its path is printed), or to the
 * path in NCEGPU_WEB_SCREENSHOT when set (`deno task web:screenshot` writes
 * docs/web-demo.png).
 */

import assert from "node:assert/strict";
import { serveDemo } from "../../examples/web/serve.ts";
import { syntheticSplits } from "../../src/data/dataset.ts";
import { loadMnistFiles } from "../../src/data/fashion_mnist.ts";
import type { TrainerConfig } from "../../src/train/config.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { Chromium, type Page } from "./_chromium.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";

/** Steps the page trains: about 50 s on SwiftShader, and past raw pixels on both data sets. */
const STEPS = 150;

/** Waits until the page's state is one of `states`, polling; fails with the page's logs on "error" or a timeout. */
async function waitFor(page: Page, states: string[], timeoutMs: number): Promise<string> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const state = await page.evaluate<string>("globalThis.__demo?.state ?? 'loading'");
    if (states.includes(state)) return state;
    if (state === "error" || performance.now() > until) {
      const error = await page.evaluate<string | null>("globalThis.__demo?.error ?? null");
      const logs = page.logs.map((l) => `${l.type}: ${l.text}`).join("\n");
      throw new Error(`the page is "${state}", waiting for ${states.join(" or ")} (error: ${error})\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const text = (page: Page, selector: string) =>
  page.evaluate<string>(`document.querySelector(${JSON.stringify(selector)})?.textContent ?? ""`);

/** Sets a file input's file through the DevTools protocol, as a person choosing it in the dialog. */
async function chooseFile(page: Page, selector: string, path: string): Promise<void> {
  const { root } = await page.send<{ root: { nodeId: number } }>("DOM.getDocument");
  const { nodeId } = await page.send<{ nodeId: number }>("DOM.querySelector", { nodeId: root.nodeId, selector });
  await page.send("DOM.setFileInputFiles", { nodeId, files: [path] });
}

Deno.test({
  name: "the demo page in headless Chromium",
  ...gpuTest,
  async fn(t) {
    const demo = await serveDemo();
    const dir = await Deno.makeTempDir({ prefix: "ncegpu-web-page-" });
    let browser: Chromium | null = null;
    try {
      browser = await Chromium.launch();
      const page = await browser.newPage();
      let config: TrainerConfig | null = null;

      await t.step(`it trains ${STEPS} steps and shows its charts and a kNN accuracy above raw pixels'`, async () => {
        await page.goto(`${demo.url}?steps=${STEPS}&autostart=1`);
        await waitFor(page, ["done"], 240_000);
        const state = await page.evaluate<{
          stepsDone: number;
          accuracy: number;
          pixelAccuracy: number;
          evals: { step: number; accuracy: number }[];
          adapter: string;
          dataset: string;
          config: TrainerConfig;
          rows: Record<string, number>;
        }>(
          "JSON.parse(JSON.stringify({ ...__demo, rows: __demo.chartRows() }))",
        );
        config = state.config;
        assert.equal(state.stepsDone, STEPS);
        assert.match(await text(page, "#adapter"), /\S/);
        assert.equal(await text(page, "#adapter"), state.adapter);
        assert.match(state.dataset, demo.dataDir ? /^Fashion-MNIST \(60,000 train, 10,000 test\)/ : /^synthetic/);
        // The charts hold the data: a record every 10 steps, two series per evaluation (encoder, raw pixels).
        assert.deepEqual(state.rows, { loss: STEPS / 10, k: STEPS / 10, accuracy: 2 * state.evals.length });
        assert.deepEqual(state.evals.map((e) => e.step), [50, 100, 150]);
        // ... and draw it: an SVG line per series, with a vertex per row.
        const lines = await page.evaluate<Record<string, number[]>>(`Object.fromEntries(
          ["loss-chart", "k-chart", "accuracy-chart"].map((id) => [id,
            [...document.querySelectorAll("#" + id + " svg .mark-line path")].map((p) =>
              (p.getAttribute("d") ?? "").split(/[ML]/).filter((s) => s.trim()).length)]))`);
        assert.deepEqual(lines["loss-chart"], [STEPS / 10]);
        assert.equal(lines["k-chart"].length, 2, "K and K*");
        assert.ok(lines["k-chart"].every((n) => n >= STEPS / 10), `K lines: ${lines["k-chart"]}`);
        assert.deepEqual(lines["accuracy-chart"], [3, 3], "encoder and raw pixels, three evaluations each");
        // The accuracy shown is the last evaluation's, and it beats raw pixels on the same bank and queries.
        assert.equal(await text(page, "#accuracy"), `${(100 * state.accuracy).toFixed(1)}%`);
        assert.equal(await text(page, "#pixels"), `${(100 * state.pixelAccuracy).toFixed(1)}%`);
        assert.equal(state.accuracy, state.evals.at(-1)!.accuracy);
        assert.ok(
          state.accuracy > state.pixelAccuracy,
          `kNN accuracy after ${STEPS} steps ${state.accuracy} must beat raw pixels' ${state.pixelAccuracy}`,
        );
        // The screenshot outlives the test, for a person to look at: one file, overwritten by the next run.
        const png = await page.screenshot({ fullPage: true });
        const shot = Deno.env.get("NCEGPU_WEB_SCREENSHOT") || `${Deno.env.get("TMPDIR") ?? "/tmp"}/ncegpu-web-demo.png`;
        await Deno.writeFile(shot, png);
        console.log(`screenshot: ${shot} (kNN accuracy ${state.accuracy}, raw pixels ${state.pixelAccuracy})`);
      });

      const gpu = await testGpu();
      const data = demo.dataDir ? await loadMnistFiles(demo.dataDir) : syntheticSplits({ seed: 101 });

      await t.step("its downloaded checkpoint resumes in Deno, which saves the same bytes", async () => {
        assert.ok(config, "the page trained");
        await page.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: dir });
        await page.evaluate("document.querySelector('#download').click()");
        const path = `${dir}/ncegpu-step-${STEPS}.safetensors`;
        let bytes: Uint8Array | null = null;
        for (let i = 0; i < 100 && !bytes; i++) {
          bytes = await Deno.readFile(path).catch(() => null);
          if (!bytes) await new Promise((resolve) => setTimeout(resolve, 200));
        }
        assert.ok(bytes, `the download reached ${path}`);
        assert.match(await text(page, "#message"), new RegExp(`Saved the checkpoint at step ${STEPS} \\(`));
        const trainer = new Trainer(gpu, data, config);
        try {
          await trainer.resume(path);
          assert.equal(trainer.stepsDone, STEPS);
          assert.deepEqual(await trainer.saveBytes(), bytes, "parameters, moments, samplers and config read back");
        } finally {
          trainer.destroy();
        }
      });

      await t.step("a checkpoint Deno saved uploads into the page, which saves the same bytes", async () => {
        const trainer = new Trainer(gpu, data, config!);
        const path = `${dir}/from-deno.safetensors`;
        try {
          await trainer.run({ until: 20 });
          await trainer.save(path);
        } finally {
          trainer.destroy();
        }
        await chooseFile(page, "#upload", path);
        await waitFor(page, ["stopped"], 60_000);
        assert.equal(await text(page, "#message"), "Resumed from from-deno.safetensors at step 20.");
        assert.equal(await text(page, "#step"), "20");
        const base64 = await page.evaluate<string>("__demo.checkpointBase64()");
        assert.deepEqual(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)), await Deno.readFile(path));
      });

      await t.step(
        "Stop halts it between chunks of steps and Continue trains on to the end (synthetic data)",
        async () => {
          const other = await browser!.newPage();
          await other.goto(`${demo.url}?steps=60&data=synthetic`);
          await waitFor(other, ["ready"], 60_000);
          assert.match(await text(other, "#data"), /^synthetic clusters \(12,000 train, 2,000 test/);
          assert.equal(await text(other, "#toggle"), "Start");
          await other.evaluate("document.querySelector('#toggle').click()");
          while (await other.evaluate<number>("__demo.stepsDone") < 10) {
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          assert.equal(await text(other, "#toggle"), "Stop");
          await other.evaluate("document.querySelector('#toggle').click()");
          await waitFor(other, ["stopped"], 60_000);
          const stoppedAt = await other.evaluate<number>("__demo.stepsDone");
          assert.ok(stoppedAt >= 10 && stoppedAt < 60, `stopped at step ${stoppedAt}`);
          assert.equal(await text(other, "#toggle"), "Continue");
          assert.equal(await other.evaluate("document.querySelector('#download').disabled"), false);
          await other.evaluate("document.querySelector('#toggle').click()");
          await waitFor(other, ["done"], 120_000);
          assert.equal(await other.evaluate<number>("__demo.stepsDone"), 60);
          assert.deepEqual(await other.evaluate("__demo.evals.map((e) => e.step)"), [20, 40, 60]);
        },
      );

      await t.step("without WebGPU it says so, and trains nothing", async () => {
        const bare = await browser!.newPage();
        await bare.send("Page.addScriptToEvaluateOnNewDocument", { source: "delete Navigator.prototype.gpu;" });
        await bare.goto(demo.url);
        await waitFor(bare, ["no-webgpu"], 30_000);
        assert.match(await text(bare, "#no-webgpu"), /^No WebGPU: this browser has no WebGPU/);
        assert.equal(await bare.evaluate("document.querySelector('#no-webgpu').hidden"), false);
        assert.equal(await bare.evaluate("document.querySelector('#toggle').disabled"), true);
      });
    } finally {
      await browser?.close();
      await demo.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
