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

/** Runs an example script with `args` and returns its exit code and everything it printed. */
async function runScript(script: string, args: string[]): Promise<{ code: number; text: string }> {
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", script, ...args],
    env: { NO_COLOR: "1" },
  }).output();
  return { code: run.code, text: new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr) };
}

// Each mistake ends in one line naming the flag and what it must be, status 2, before the GPU is asked for (no
// adapter line, no tuning): the table's patterns are the flag's name and its expectation.
Deno.test("the train script refuses bad and conflicting flags by name, with status 2, before any GPU work", async () => {
  const out = await Deno.makeTempDir();
  const file = `${out}/a-file`;
  await Deno.writeTextFile(file, "");
  const cases: [string[], RegExp][] = [
    [["--kmax", "500"], /--kmax must be at most --batch − 1 \+ --queue.*got 500/],
    [["--k", "500", "--schedule", "fixed"], /--k must be at most --kmax \(32\): got 500/],
    [["--kstar", "40"], /--kstar must be at most --kmax \(32\): got 40/],
    [["--queue", "16"], /--queue must be 0 or at least --batch \(128\).*got 16/],
    [["--augment", "--no-augment"], /--augment and --no-augment: give one of them/],
    [["--synthetic", "--data", out], /--synthetic and --data .*: give one of them/],
    [["--data", file], /--data must be a folder holding the four IDX files: got .*a-file/],
    [["--synthetic", "--final-bank", "99999"], /--final-bank must be at most the 12000 training items: got 99999/],
    [["--synthetic", "--resume", `${out}/none.safetensors`], /--resume must be a checkpoint file: got .*none/],
    [["--synthetic", "--out", file], /--out must be a folder that exists or can be made: got .*a-file/],
  ];
  for (const [args, expected] of cases) {
    const { code, text } = await runScript("examples/train.ts", args);
    assert.equal(code, 2, `${args.join(" ")}: status ${code}\n${text}`);
    assert.match(text, expected, args.join(" "));
    assert.doesNotMatch(text, /adapter:|matmul:|\n\s+at /, `${args.join(" ")} reached the GPU or threw:\n${text}`);
  }
  await Deno.remove(out, { recursive: true });
});

Deno.test("the experiment script's --report-only refuses --fresh, an empty runs file and another grid, and keeps the runs and report", async () => {
  const out = await Deno.makeTempDir();
  const runs = `${out}/experiment-runs.jsonl`;
  const line = '{"dataset":"synthetic"}\n';
  await Deno.writeTextFile(runs, line);
  const fresh = await runScript("examples/experiment.ts", ["--report-only", "--fresh", "--out", out]);
  assert.equal(fresh.code, 2, fresh.text);
  assert.match(fresh.text, /--fresh would empty .*experiment-runs\.jsonl, the runs --report-only reports/);
  assert.equal(await Deno.readTextFile(runs), line, "the runs file is untouched");
  const empty = await Deno.makeTempDir();
  const none = await runScript("examples/experiment.ts", ["--report-only", "--out", empty]);
  assert.equal(none.code, 2, none.text);
  assert.match(none.text, /--report-only needs recorded runs, and .*experiment-runs\.jsonl has none/);
  // Runs of another grid only: the report that is there stays (an empty one would replace it).
  await Deno.writeTextFile(`${out}/experiment.md`, "the report the runs back\n");
  const other = await runScript("examples/experiment.ts", ["--report-only", "--steps", "100", "--out", out]);
  assert.equal(other.code, 2, other.text);
  assert.match(other.text, /No recorded run in .* matches this grid \(--steps 100/);
  assert.equal(await Deno.readTextFile(`${out}/experiment.md`), "the report the runs back\n");
  await Deno.writeTextFile(`${out}/a-file`, "");
  const badOut = await runScript("examples/experiment.ts", ["--out", `${out}/a-file`]);
  assert.equal(badOut.code, 2, badOut.text);
  assert.match(badOut.text, /--out must be a folder that exists or can be made/);
  await Deno.remove(out, { recursive: true });
  await Deno.remove(empty, { recursive: true });
});
