/**
 * The PyTorch column of the step benchmark: runs bench/torch_step.py with
 * /usr/bin/python3 on ncegpu's initial parameters and inputs (one temporary
 * safetensors file). Optional by construction: `probeTorch` says why the
 * column is skipped when that python cannot import torch, and nothing in
 * the library or its tests imports this module.
 */

import { encodeSafetensors, type HostTensor } from "../src/train/safetensors.ts";

/** The Python that runs the script (Debian's python3-torch is importable only from the system Python). */
export const PYTHON = "/usr/bin/python3";
/** Threads PyTorch runs with: every logical core, as torch's own default. */
export const TORCH_THREADS: number = navigator.hardwareConcurrency;
const SCRIPT = new URL("./torch_step.py", import.meta.url).pathname;

/**
 * Whether the column runs: torch's version, threads and the BLAS library its process maps (Debian's torch runs on
 * whichever libblas.so.3 the alternatives select: the reference BLAS is ~30× slower than OpenBLAS), or why not.
 */
export type TorchProbe = { version: string; threads: number; blas: string } | { skipped: string };

// After one matmul, the BLAS libraries the process has mapped, by path.
const PROBE = [
  "import torch",
  "torch.ones(64, 64) @ torch.ones(64, 64)",
  "maps = {'/'.join(line.split()[-1].split('/')[-2:]) for line in open('/proc/self/maps') if 'blas' in line.lower()}",
  "print(torch.__version__)",
  "print(', '.join(sorted(maps)) or 'none mapped')",
].join("\n");

/** One K of the PyTorch column. */
export interface TorchStepResult {
  /** Median wall-clock ms per step over the timed steps. */
  ms: number;
  /** The loss of the first step, at the initial parameters. */
  loss: number;
}

/**
 * Asks /usr/bin/python3 for torch's version, without throwing.
 *
 * @returns The version, threads and BLAS, or the reason the PyTorch column is skipped.
 */
export async function probeTorch(): Promise<TorchProbe> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", PROBE],
      env: { OMP_WAIT_POLICY: "PASSIVE" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const last = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1);
      return { skipped: `${PYTHON} cannot import torch (${last})` };
    }
    const [version, blas] = new TextDecoder().decode(out.stdout).trim().split("\n");
    return { version, threads: TORCH_THREADS, blas: blas ?? "unknown" };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { skipped: `${PYTHON} does not exist` };
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      return { skipped: `no permission to run ${PYTHON} (--allow-run=${PYTHON})` };
    }
    return { skipped: `${PYTHON} failed to start (${(error as Error).message})` };
  }
}

/**
 * Runs the step in PyTorch from the given start; the script itself checks its first loss against ncegpu's.
 *
 * @param setup B, K, τ, the learning rate, the timed steps, ncegpu's first loss, the initial parameters by
 * ParameterStore name and the inputs.
 * @returns The median ms/step and the first loss.
 * @throws {Error} When the script fails, among others when the first losses disagree.
 */
export async function torchStep(setup: {
  b: number;
  k: number;
  tau: number;
  lr: number;
  iterations: number;
  expectLoss: number;
  params: Record<string, { shape: number[]; data: Float32Array }>;
  xq: Float32Array;
  xc: Float32Array;
}): Promise<TorchStepResult> {
  const { b, k, params, xq, xc } = setup;
  const tensors: Record<string, HostTensor> = {
    xq: { dtype: "F32", shape: [b, xq.length / b], data: xq },
    xc: { dtype: "F32", shape: [b * (1 + k), xc.length / (b * (1 + k))], data: xc },
  };
  for (const [name, p] of Object.entries(params)) tensors[name] = { dtype: "F32", ...p };
  const metadata = {
    b: String(b),
    k: String(k),
    tau: String(setup.tau),
    lr: String(setup.lr),
    iterations: String(setup.iterations),
    expect_loss: String(setup.expectLoss),
  };
  const file = await Deno.makeTempFile({ prefix: "ncegpu-step-", suffix: ".safetensors" });
  try {
    await Deno.writeFile(file, encodeSafetensors(tensors, metadata));
    const out = await new Deno.Command(PYTHON, {
      args: [SCRIPT, file, "--threads", String(TORCH_THREADS)],
      env: { OMP_WAIT_POLICY: "PASSIVE" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr).trim();
    if (!out.success) throw new Error(`bench/torch_step.py failed at K=${k}: ${stderr}`);
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    return { ms: result.medianMs, loss: result.firstLoss };
  } finally {
    await Deno.remove(file);
  }
}
