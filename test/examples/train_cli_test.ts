import assert from "node:assert/strict";

// `deno task train` as a user runs it, on the embedded synthetic default, shortened: it must finish, report the
// accuracy, and leave its three files behind (and its matmul tuning cache). `--help` must list every option the script parses.
Deno.test("the train script runs end to end on the synthetic default and writes metrics, curves and a checkpoint", async () => {
  const out = await Deno.makeTempDir();
  const run = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "examples/train.ts",
      "--synthetic",
      "--steps",
      "30",
      "--batch",
      "32",
      "--eval-every",
      "20",
      "--final-bank",
      "1000",
      "--final-queries",
      "300",
      "--out",
      out,
    ],
    env: { NO_COLOR: "1", NCEGPU_CACHE_DIR: `${out}/cache` }, // the matmul tuning cache, not the user's
  }).output();
  const text = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
  assert.equal(run.code, 0, text);
  const accuracy = Number(text.match(/final kNN accuracy \(k = 10, clean test labels\): ([\d.]+)%/)?.[1]);
  assert.ok(accuracy > 50, `the synthetic task is learnable in 30 steps: ${accuracy}%\n${text}`);
  assert.match(text, /step 20: kNN accuracy/);
  const lines = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.filter((l) => l.type === "train").map((l) => l.step), [10, 20, 30]);
  assert.equal(lines.filter((l) => l.type === "eval").length, 2);
  assert.match(await Deno.readTextFile(`${out}/curves.svg`), /^<svg/);
  assert.ok((await Deno.stat(`${out}/checkpoint.safetensors`)).size > 0);
  // The step's matmul variants were measured once and cached for the next run.
  assert.match(text, /matmul: measured \d+ shape classes in [\d.]+ s, read 0 choices \(cache: /);
  const [cache] = [...Deno.readDirSync(`${out}/cache`)].map((e) => e.name);
  assert.match(cache, /^matmul-[a-z0-9-]+\.json$/);
  // A cache folder that is a file costs the caching, not the run.
  await Deno.writeTextFile(`${out}/not-a-folder`, "");
  const again = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "examples/train.ts", "--synthetic", "--steps", "3"],
    env: { NO_COLOR: "1", NCEGPU_CACHE_DIR: `${out}/not-a-folder` },
  }).output();
  const againText = new TextDecoder().decode(again.stdout) + new TextDecoder().decode(again.stderr);
  assert.equal(again.code, 0, againText);
  assert.match(againText, /matmul: the tuning cache is unusable, measuring without it .*not-a-folder/);
  assert.match(againText, /\(not cached\)/);
  await Deno.remove(out, { recursive: true });
});

Deno.test("the train script's --help lists every option it parses", async () => {
  const source = await Deno.readTextFile("examples/train.ts");
  const parsed = [...source.matchAll(/^ {4}"?([a-z-]+)"?: \{ type: "(?:string|boolean)"/gm)].map((m) => m[1]);
  const help = new TextDecoder().decode(
    (await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-env", "examples/train.ts", "--help"],
    })
      .output()).stdout,
  );
  assert.ok(parsed.length > 20, `found the options: ${parsed}`);
  for (const option of parsed) assert.ok(help.includes(`--${option}`), `--help does not mention --${option}`);
});
