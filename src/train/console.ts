/**
 * The trainer's console and file reporting (Deno only): a progress bar with
 * ETA (cli-progress) on a terminal, plain progress lines when the output is
 * a log, a metrics line every so often, and every record appended to a
 * JSONL file.
 *
 * @module
 */

import process from "node:process";
// @ts-types="@types/cli-progress"
import cliProgress from "cli-progress";
import type { TrainerHooks, TrainRecord } from "./records.ts";

/** Options of {@linkcode consoleHooks}. */
export interface ConsoleOptions {
  /** Total steps, for the bar and the ETA. */
  total: number;
  /** Steps already done (a resumed run). */
  start?: number;
  /** Append every record to this JSONL file (default: none). */
  jsonl?: string;
  /** Print a metrics line every this many records (default 10). */
  printEvery?: number;
  /** Draw a live bar (default: when stdout is a terminal). */
  bar?: boolean;
}

/** Formats a duration in seconds as m:ss. */
function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * Trainer hooks that report progress and metrics; `close()` when training ends.
 *
 * @param options Total steps, JSONL path, cadence.
 * @returns The hooks, `line` to print a message without breaking the bar, and `close` to finish the bar and the file.
 */
export function consoleHooks(options: ConsoleOptions): TrainerHooks & { line(text: string): void; close(): void } {
  const start = options.start ?? 0;
  const printEvery = options.printEvery ?? 10;
  const useBar = options.bar ?? Deno.stdout.isTerminal();
  const encoder = new TextEncoder();
  const file = options.jsonl ? Deno.openSync(options.jsonl, { create: true, append: true }) : null;
  const began = performance.now();
  let last: TrainRecord | null = null;
  let seen = 0;
  const bar = useBar
    ? new cliProgress.SingleBar({
      format: "train |{bar}| {value}/{total} steps | K {k} | loss {loss} | {rate} steps/s | ETA {eta_formatted}",
      etaBuffer: 50,
      hideCursor: true,
    }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(options.total, start, { k: "-", loss: "-", rate: "-" });
  // Over a live bar: clear its line first; it redraws below on the next step.
  const line = (text: string) => console.log(bar ? `\r\x1b[2K${text}` : text);
  return {
    onStep(step, k) {
      const rate = (step - start) / ((performance.now() - began) / 1000);
      bar?.update(step, { k, loss: last ? last.loss.toFixed(4) : "-", rate: rate.toFixed(1) });
      // Without a terminal, a progress line every tenth of the run, with the ETA.
      const tenth = Math.max(1, Math.floor((options.total - start) / 10));
      if (!bar && (step - start) % tenth === 0) {
        console.log(
          `step ${step}/${options.total}  K ${k}  ${rate.toFixed(1)} steps/s  ETA ${
            clock((options.total - step) / rate)
          }`,
        );
      }
    },
    onRecord(record) {
      last = record;
      file?.writeSync(encoder.encode(JSON.stringify({ type: "train", ...record }) + "\n"));
      if (seen++ % printEvery === 0) {
        line(
          `step ${record.step}: loss ${record.loss.toFixed(4)}  K ${record.k} (K* ${record.kStar})  ` +
            `P̂(B|K) ${record.pB.toFixed(3)}  MI bound ${record.miBound.toFixed(3)}  η ${record.eta.toFixed(3)}  ` +
            `${record.stepsPerSecond.toFixed(1)} steps/s`,
        );
      }
    },
    line,
    close() {
      bar?.stop();
      file?.close();
    },
  };
}

/**
 * Appends one JSON object as a line to `path` (for evaluation records next to the metrics).
 *
 * @param path The JSONL file.
 * @param record The object.
 */
export async function appendJsonl(path: string, record: unknown): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(record) + "\n", { append: true });
}

/**
 * Silences Node deprecation warnings for the rest of the process: Vega's
 * loader (used by `svgCharts`) imports Node's deprecated punycode module,
 * and the warning would otherwise end up in every training log.
 */
export function quietNodeDeprecations(): void {
  (process as unknown as { noDeprecation: boolean }).noDeprecation = true;
}
