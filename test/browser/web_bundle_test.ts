import assert from "node:assert/strict";
import { bundleForBrowser } from "../../examples/web/build.ts";
import * as full from "../../mod.ts";
import * as web from "../../src/web.ts";

/** What mod.ts has and src/web.ts leaves out: each reads or writes files (or names a folder of them). */
const DENO_ONLY_EXPORTS = [
  "FASHION_MNIST_DIR",
  "hasMnistFiles",
  "loadCheckpoint",
  "loadMnistFiles",
  "readIdx",
  "readSafetensors",
  "saveCheckpoint",
  // The matmul tuning cache (src/train/tuning_cache.ts): a page tunes with tuneMatmulShapes and keeps the record.
  "defaultTuningCacheDir",
  "loadMatmulTuning",
  "saveMatmulTuning",
  "TRAINER_TUNING_VARIANTS",
  "tuneTrainer",
  "tuningCachePath",
];

/** The relative modules a bundle file imports statically (esbuild writes them first: `import{…}from"./x.js";`). */
function staticImports(code: string): string[] {
  const found: string[] = [];
  const statement = /^\s*import\s*(?:[\w$*{}\s,]+from\s*)?"(\.\/[^"]+)";?/;
  for (let rest = code, match; (match = rest.match(statement)); rest = rest.slice(match[0].length)) {
    found.push(match[1]);
  }
  return found;
}

Deno.test("src/web.ts exports everything of mod.ts except the file readers and writers", () => {
  const expected = Object.keys(full).filter((name) => !DENO_ONLY_EXPORTS.includes(name)).sort();
  assert.deepEqual(Object.keys(web).sort(), expected);
  for (const name of DENO_ONLY_EXPORTS) assert.ok(name in full, `mod.ts still exports ${name}`);
});

Deno.test("the browser bundle of src/web.ts loads no Deno API and no node: module; only the lazy file chunk uses Deno", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await bundleForBrowser("src/web.ts", dir);
    const files = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.ok(files.includes("web.js"), `web.js among ${files}`);
    // Everything a page loads by importing web.js: the entry and its static imports, transitively.
    const loaded = new Set<string>();
    const visit = (name: string) => {
      if (loaded.has(name)) return;
      loaded.add(name);
      for (const dep of staticImports(Deno.readTextFileSync(`${dir}/${name}`))) visit(dep.slice(2));
    };
    visit("web.js");
    for (const name of loaded) {
      const code = Deno.readTextFileSync(`${dir}/${name}`); // minified: comments (and their examples) are gone
      assert.doesNotMatch(code, /\bDeno\./, `${name} uses a Deno API`);
      assert.doesNotMatch(code, /["']node:/, `${name} imports a node: module`);
    }
    // The Deno-only file code (atomic writes, reads) is a chunk of its own that only `import()` reaches.
    const denoChunks = files.filter((name) => /\bDeno\./.test(Deno.readTextFileSync(`${dir}/${name}`)));
    assert.deepEqual(denoChunks.map((name) => name.replace(/-\w+\.js$/, "")), ["_atomic_file"]);
    assert.ok(!loaded.has(denoChunks[0]));
    assert.match(Deno.readTextFileSync(`${dir}/web.js`), new RegExp(`import\\("\\./${denoChunks[0]}"\\)`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
