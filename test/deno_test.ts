/**
 * Runs `deno test` over the whole project (or the paths given), in an environment that keeps Mesa's
 * software Vulkan driver from crashing the test process as it exits.
 *
 * Why a launcher and not a plain `deno test`: the test runner gives every test module its own WebGPU
 * instance, so one process creates and drops about ninety of them. With Mesa 22.3 each instance loads
 * every installed Vulkan driver (lavapipe, and the radeon and intel drivers that find no hardware) and
 * wgpu's GL backend loads Mesa's swrast; dropping the instance unloads them again, on a background
 * thread. Those drivers register exit handlers, and when the process exits while one is being unloaded,
 * the handler runs in unmapped code or on freed memory: a segmentation fault or glibc's "corrupted size
 * vs. prev_size" after every test has passed (2026-11-30, a script that ran ten instances in workers
 * crashed in 4 of 40 runs, and with any two of the three settings below in 11–20 of 60; with all three
 * in 0 of 100. One instance per process, as in a training script, crashed in 0 of 60 without them).
 *
 * On Linux with lavapipe installed and no GPU device node (no /dev/dri/renderD*, /dev/nvidia*, /dev/kfd or
 * /dev/dxg), the tests therefore run with only lavapipe's driver file (`VK_DRIVER_FILES`), only the Vulkan
 * backend (`DENO_WEBGPU_BACKEND`), and lavapipe preloaded (`LD_PRELOAD`, which the tests' own subprocesses
 * inherit) so that it is never unloaded. Anywhere else the environment is passed through unchanged. Set
 * `NCEGPU_TEST_RAW_ENV=1` to skip the adjustment.
 *
 * Usage: `deno task test:deno [more deno test arguments, such as paths…]`; the permissions the suite
 * needs and `--doc` are always passed.
 *
 * @module
 */

const LAVAPIPE_DRIVER_FILE = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";
const LAVAPIPE_LIBRARY = "/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so";
const SUITE_ARGUMENTS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-net=127.0.0.1",
  "--doc",
];

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether the machine shows a GPU: a DRM render node, NVIDIA's or AMD's compute nodes, or WSL's. */
function hasGpuDeviceNode(): boolean {
  if (["/dev/nvidia0", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg"].some(exists)) return true;
  try {
    return [...Deno.readDirSync("/dev/dri")].some((entry) => entry.name.startsWith("renderD"));
  } catch {
    return false;
  }
}

/** The environment additions for a lavapipe-only Linux machine, or none elsewhere. */
export function lavapipeTestEnvironment(): Record<string, string> {
  if (Deno.build.os !== "linux" || Deno.env.get("NCEGPU_TEST_RAW_ENV") === "1") return {};
  if (!exists(LAVAPIPE_DRIVER_FILE) || !exists(LAVAPIPE_LIBRARY) || hasGpuDeviceNode()) return {};
  const preload = [Deno.env.get("LD_PRELOAD"), LAVAPIPE_LIBRARY].filter(Boolean).join(" ");
  return {
    VK_DRIVER_FILES: LAVAPIPE_DRIVER_FILE,
    VK_ICD_FILENAMES: LAVAPIPE_DRIVER_FILE, // the name Vulkan loaders before 1.3.207 read
    DENO_WEBGPU_BACKEND: "vulkan",
    LD_PRELOAD: preload,
  };
}

if (import.meta.main) {
  const env = lavapipeTestEnvironment();
  if (Object.keys(env).length > 0) {
    console.error(`test: lavapipe only, preloaded (${Object.keys(env).join(", ")}; see test/deno_test.ts)`);
  }
  const args = ["test", ...SUITE_ARGUMENTS, ...Deno.args];
  const child = new Deno.Command(Deno.execPath(), { args, env }).spawn();
  const status = await child.status;
  Deno.exit(status.code);
}
