/**
 * The buffers a GPU context made: their sizes (for the counters that prove
 * a training step allocates nothing) and the free ones kept for reuse by
 * (usage, size), so that work acquiring and releasing the same sizes every
 * step allocates only on its first.
 *
 * @module
 */

import type { GpuCounters } from "./types.ts";

/** Tracked buffers and a pool of free ones. */
export class BufferPool {
  readonly #counters: GpuCounters;
  readonly #free = new Map<string, GPUBuffer[]>();
  readonly #bytes = new WeakMap<GPUBuffer, number>();
  readonly #pooled = new WeakSet<GPUBuffer>();

  /**
   * An empty pool that keeps `counters` up to date.
   *
   * @param counters The context's counters.
   */
  constructor(counters: GpuCounters) {
    this.#counters = counters;
  }

  /**
   * Starts tracking a new buffer of `size` bytes.
   *
   * @param buffer The buffer.
   * @param size Its size.
   * @returns The buffer.
   */
  track(buffer: GPUBuffer, size: number): GPUBuffer {
    const c = this.#counters;
    this.#bytes.set(buffer, size);
    c.buffersAllocated++;
    c.liveBuffers++;
    c.liveBytes += size;
    c.peakLiveBytes = Math.max(c.peakLiveBytes, c.liveBytes);
    return buffer;
  }

  /**
   * A free buffer of exactly `bytes` (rounded up to 4, at least 4) and `usage`, or null when none is free.
   *
   * @param bytes Size in bytes.
   * @param usage `GPUBufferUsage` flags.
   * @returns The buffer, or null.
   */
  take(bytes: number, usage: GPUBufferUsageFlags): GPUBuffer | null {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const reused = this.#free.get(`${usage}:${size}`)?.pop();
    if (!reused) return null;
    this.#pooled.delete(reused);
    return reused;
  }

  /**
   * Returns a tracked buffer to the free list (once: a second release would let two owners share it).
   *
   * @param buffer The buffer.
   */
  release(buffer: GPUBuffer): void {
    if (!this.#bytes.has(buffer) || this.#pooled.has(buffer)) return;
    this.#pooled.add(buffer);
    const key = `${buffer.usage}:${buffer.size}`;
    const free = this.#free.get(key) ?? [];
    free.push(buffer);
    this.#free.set(key, free);
  }

  /**
   * Destroys a tracked buffer (nothing for one not tracked, or already destroyed).
   *
   * @param buffer The buffer.
   */
  destroy(buffer: GPUBuffer): void {
    const size = this.#bytes.get(buffer);
    if (size === undefined) return;
    this.#bytes.delete(buffer);
    this.#counters.liveBuffers--;
    this.#counters.liveBytes -= size;
    buffer.destroy();
  }

  /** Destroys every free buffer. */
  trim(): void {
    for (const free of this.#free.values()) {
      for (const b of free) {
        this.#pooled.delete(b);
        this.destroy(b);
      }
    }
    this.#free.clear();
  }
}
