/**
 * What a results file records about the machine that produced it: CPU, OS,
 * Deno, the adapter and its driver, the libraries compared against, and the
 * git commit. Every probe is best effort: what cannot be read is null, never
 * an error, so that a benchmark runs on any machine.
 */

import { cpus } from "node:os";
import type { Gpu } from "../src/gpu/device.ts";
import type { TorchProbe } from "./torch_step.ts";

/** The machine and versions behind a results file. */
export interface MachineInfo {
  cpu: { model: string | null; logicalCores: number };
  os: { name: string; release: string | null; distribution: string | null; arch: string };
  deno: string;
  v8: string;
  /** Every field of `adapter.info` (Deno's has no driver fields: see `driver`). */
  adapterInfo: Record<string, unknown>;
  /** The driver, when known: on Linux the installed Mesa Vulkan package (dpkg), named as such. */
  driver: string | null;
  tfjs: string | null;
  pytorch: { version: string; threads: number; blas: string; device: "cpu" } | { skipped: string } | null;
  git: { commit: string; dirty: boolean } | null;
}

/** A text file's contents, or null when it cannot be read. */
async function readText(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return null;
  }
}

/** What `probe` returns, or null when it throws (a permission not granted). */
function attempt<T>(probe: () => T | null): T | null {
  try {
    return probe();
  } catch {
    return null;
  }
}

/** A command's trimmed stdout, or null when it cannot run or fails. */
async function run(cmd: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** The version of a package from dpkg's database, read as a file (no process). */
function dpkgVersion(status: string | null, pkg: string): string | null {
  const entry = status?.split("\n\n").find((e) => e.startsWith(`Package: ${pkg}\n`));
  return entry?.match(/^Version: (.+)$/m)?.[1] ?? null;
}

/**
 * Collects the machine's description.
 *
 * @param gpu The context whose adapter ran the benchmark.
 * @param versions The versions of the libraries compared against: TF.js (null when not loaded) and torch's probe
 * (null when the step family did not run).
 * @returns The description.
 */
export async function machineInfo(
  gpu: Gpu,
  versions: { tfjs: string | null; torch: TorchProbe | null },
): Promise<MachineInfo> {
  const osRelease = await readText("/etc/os-release");
  // node:os, since Deno reads /proc/cpuinfo only with --allow-all; null without --allow-sys=cpus,osRelease.
  const model = attempt(() => cpus()[0]?.model.trim() || null);
  const release = attempt(() => Deno.osRelease());
  const adapterInfo: Record<string, unknown> = {};
  const info = gpu.adapter.info as unknown as Record<string, unknown>;
  for (const key in info) if (typeof info[key] !== "function") adapterInfo[key] = info[key];
  const mesa = dpkgVersion(await readText("/var/lib/dpkg/status"), "mesa-vulkan-drivers");
  const commit = await run("git", ["rev-parse", "HEAD"]);
  const status = commit === null ? null : await run("git", ["status", "--porcelain", "--untracked-files=no"]);
  const torch = versions.torch;
  return {
    cpu: {
      model,
      logicalCores: navigator.hardwareConcurrency,
    },
    os: {
      name: Deno.build.os,
      release,
      distribution: osRelease?.match(/^PRETTY_NAME="?([^"\n]*)"?$/m)?.[1] ?? null,
      arch: Deno.build.arch,
    },
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    adapterInfo,
    driver: mesa ? `mesa-vulkan-drivers ${mesa} (dpkg)` : null,
    tfjs: versions.tfjs,
    pytorch: torch === null ? null : "version" in torch ? { ...torch, device: "cpu" } : torch,
    git: commit === null ? null : { commit, dirty: status !== null && status !== "" },
  };
}

/**
 * One line for a report's header.
 *
 * @param m The description.
 * @returns CPU, OS, Deno, driver, libraries and commit in one line.
 */
export function machineLine(m: MachineInfo): string {
  const torch = m.pytorch === null
    ? []
    : "version" in m.pytorch
    ? [`PyTorch ${m.pytorch.version} (CPU, ${m.pytorch.threads} threads, BLAS ${m.pytorch.blas})`]
    : [`PyTorch skipped: ${m.pytorch.skipped}`];
  return [
    `${m.cpu.model ?? "unknown CPU"} (${m.cpu.logicalCores} logical cores)`,
    `${m.os.distribution ?? m.os.name} ${m.os.release ?? ""}`.trim(),
    `Deno ${m.deno}`,
    ...(m.driver ? [m.driver] : []),
    ...(m.tfjs ? [`TF.js ${m.tfjs}`] : []),
    ...torch,
    m.git ? `commit ${m.git.commit.slice(0, 7)}${m.git.dirty ? " (uncommitted changes)" : ""}` : "commit unknown",
  ].join("; ");
}
