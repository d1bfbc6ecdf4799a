/**
 * Checkpoint files (Deno only): atomic writes, so that nothing a user saved
 * is ever lost to a crash or a kill in the middle of a save, and reads that
 * name the file when it cannot be read. Browser bundles never load this
 * module: the trainer imports it lazily, only when it saves or resumes a file.
 *
 * @module
 */

import { checkString } from "../gpu/_check.ts";
import { CheckpointError } from "./safetensors.ts";

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same folder,
 * flushed to disk, then renamed over `path`. Until the rename, `path` keeps
 * its previous contents; a rename within one folder replaces it in one
 * step, so a reader sees the old file or the new one, never a mixture.
 *
 * @param path Destination.
 * @param bytes Contents.
 * @param hooks For tests: `beforeRename` runs between the flush and the rename (throw to simulate a crash).
 * @throws {Deno.errors.NotFound} When the folder does not exist (and any other file-system error, unchanged).
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  hooks: { beforeRename?: () => void } = {},
): Promise<void> {
  const temp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const file = await Deno.open(temp, { write: true, create: true, truncate: true });
  try {
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.syncData();
    } finally {
      file.close();
    }
    hooks.beforeRename?.();
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {}); // the previous file at `path` is untouched
    throw error;
  }
}

/**
 * Checks, before anything is computed for it, that `path` names a file in a folder that exists (a save reads its
 * tensors back from the GPU first; a missing folder is reported before that). Whether the folder can be written is
 * left to the write, which reports it unchanged.
 *
 * @param op The op saving, for errors.
 * @param path The file.
 * @throws {TypeError} When `path` is not a string.
 * @throws {RangeError} When `path` is empty.
 * @throws {Deno.errors.NotFound} When its folder does not exist (or is not a folder).
 */
export async function checkSavePath(op: string, path: string): Promise<void> {
  checkString(op, "path", path, true);
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const folder = cut < 0 ? "." : cut === 0 ? path[0] : path.slice(0, cut);
  const info = await Deno.stat(folder).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  });
  if (!info?.isDirectory) {
    throw new Deno.errors.NotFound(
      `Cannot run ${op} as path must be in a folder that exists: current value is ${JSON.stringify(path)}`,
    );
  }
}

/**
 * Reads a checkpoint file's bytes.
 *
 * @param op The op reading, for errors.
 * @param path The file.
 * @returns Its bytes.
 * @throws {TypeError} When `path` is not a string.
 * @throws {RangeError} When `path` is empty.
 * @throws {CheckpointError} When the file cannot be read (missing, a folder, no permission).
 */
export async function readCheckpointFile(op: string, path: string): Promise<Uint8Array> {
  checkString(op, "path", path, true);
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw new CheckpointError(path, `cannot be read (${(error as Error).message})`);
  }
}
