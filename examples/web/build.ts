/**
 * `deno task build:web` — the browser builds, as ES modules:
 *
 *   OUT/ncegpu/web.js   the core (src/web.ts) for pages; its lazily loaded chunks beside it
 *   OUT/index.html      the demo page (examples/web/), with OUT/app.js and its chunks
 *
 * OUT is `examples/web/dist` unless `--out DIR` says otherwise. Bundled with
 * `deno bundle --platform browser --code-splitting` (the WGSL is inlined, npm
 * packages included): the Deno-only file code that `Trainer.save`/`resume`
 * import lazily lands in a chunk of its own, which a page never fetches.
 *
 *   deno task build:web [--out DIR]
 *
 * @module
 */

import { parseArgs } from "node:util";

const root = new URL("../../", import.meta.url);

/**
 * Runs `deno bundle --quiet --platform browser` from the repository root.
 *
 * @param args The rest of its command line: options, then the entry.
 * @param entry The entry, for the error message.
 * @throws {Error} When `deno bundle` fails (its message included).
 */
export async function denoBundle(args: readonly string[], entry: string): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", ...args],
    cwd: root.pathname,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`deno bundle ${entry} failed:\n${new TextDecoder().decode(stderr)}`);
}

/**
 * Bundles `entry` (relative to the repository root) for browsers into `outDir`.
 *
 * @param entry The entry module.
 * @param outDir The output folder (created; its entry file is named after `entry`, `.js`).
 * @throws {Error} When `deno bundle` fails (its message included).
 */
export async function bundleForBrowser(entry: string, outDir: string): Promise<void> {
  await denoBundle(["--format", "esm", "--code-splitting", "--minify", "--outdir", outDir, entry], entry);
}

/**
 * Builds the core bundle and the demo page into `out`.
 *
 * @param out The output folder.
 * @param options `core: false` builds only the page (what `deno task web` serves).
 */
export async function buildWeb(out: string, options: { core?: boolean } = {}): Promise<void> {
  await Deno.mkdir(out, { recursive: true });
  const jobs = [bundleForBrowser("examples/web/app.ts", out)];
  if (options.core ?? true) jobs.push(bundleForBrowser("src/web.ts", `${out}/ncegpu`));
  await Promise.all(jobs);
  await Deno.copyFile(new URL("examples/web/index.html", root), `${out}/index.html`);
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { out: { type: "string", default: "examples/web/dist" } } });
  const began = performance.now();
  await buildWeb(values.out);
  const files = [...Deno.readDirSync(values.out)].filter((e) => e.isFile).length +
    [...Deno.readDirSync(`${values.out}/ncegpu`)].length;
  console.log(
    `wrote ${values.out}/ncegpu/web.js (the core for browsers) and ${values.out}/index.html + app.js (the demo), ` +
      `${files} files, in ${((performance.now() - began) / 1000).toFixed(1)} s`,
  );
}
