/**
 * `deno task bench --compare A.json B.json`: the ratio of two results files
 * (two adapters, or two commits on one). Rows of a family are matched by the
 * fields that say what was measured (shape, K, path...), never by what was
 * chosen or measured (the tuned variant, the times); each timed field present
 * in both rows gives A, B and B/A. Pure functions, apart from `compareFiles`.
 */

/** How a family's rows are found, matched and timed. */
export interface FamilySpec {
  /** The family's name in the report. */
  name: string;
  /** Where its rows are: paths of keys into the results object, the first present wins (older names after). */
  at: string[][];
  /** The fields that identify a row. */
  keys: string[];
  /** The fields that hold medians in ms. */
  medians: string[];
  /** Fields that describe rather than identify a row (the tuned variant): shown when the two files differ. */
  notes?: string[];
}

/** The families `deno task bench` writes; "rows" is what the matmul rows were called before families had names. */
export const FAMILY_SPECS: FamilySpec[] = [
  {
    name: "matmul",
    at: [["matmul"], ["rows"]],
    keys: ["op", "form", "shape"],
    medians: ["medianMs", "baselineMs"],
    notes: ["variant"],
  },
  {
    name: "contrast steps",
    at: [["contrast", "steps"]],
    keys: ["weighting", "b", "k", "d"],
    medians: ["lossMs", "encoderMs"],
  },
  {
    name: "contrast layouts",
    at: [["contrast", "layouts"]],
    keys: ["loss", "layout", "rows", "d", "tile"],
    medians: ["medianMs"],
  },
  { name: "gather", at: [["gather"]], keys: ["path", "rows", "width"], medians: ["medianMs"] },
  { name: "knn", at: [["knn"]], keys: ["queries", "bank", "dim", "depth"], medians: ["hostMs", "gpuMs"] },
  {
    name: "step",
    at: [["step"]],
    keys: ["b", "k"],
    medians: ["ncegpuPipelinedMs", "tfjsPipelinedMs", "ncegpuMs", "tfjsMs", "torchMs"],
  },
];

/** One timed field of a row found in both files. */
export interface MatchedMedian {
  family: string;
  /** The row's identifying fields, as "k=4, b=256". */
  row: string;
  /** The timed field. */
  median: string;
  /** The note fields that differ, as "variant reg8x8 → named8x16" ("" when none do). */
  note: string;
  /** ms in A and B; null when the field is missing or null in that file. */
  a: number | null;
  b: number | null;
  /** b / a; null unless both are numbers and a > 0. */
  ratio: number | null;
}

/** A row found in one file only. */
export interface LoneRow {
  family: string;
  row: string;
}

/** The comparison of two results files. */
export interface Comparison {
  matched: MatchedMedian[];
  onlyA: LoneRow[];
  onlyB: LoneRow[];
}

type Row = Record<string, unknown>;

/** The rows of a family in a results object ([] when absent). */
function rowsOf(results: Row, spec: FamilySpec): Row[] {
  for (const path of spec.at) {
    let at: unknown = results;
    for (const key of path) at = at !== null && typeof at === "object" ? (at as Row)[key] : undefined;
    if (Array.isArray(at)) return at.filter((r): r is Row => r !== null && typeof r === "object");
  }
  return [];
}

/** A row's identity, as text: its key fields in the spec's order; a missing one reads "?". */
function rowKey(row: Row, spec: FamilySpec): string {
  return spec.keys.map((k) => `${k}=${row[k] === undefined ? "?" : String(row[k])}`).join(", ");
}

/** The rows of a family by identity; a repeated identity gets " #2", " #3"... in order of appearance. */
function byKey(rows: Row[], spec: FamilySpec): Map<string, Row> {
  const out = new Map<string, Row>();
  for (const row of rows) {
    const base = rowKey(row, spec);
    let key = base;
    for (let n = 2; out.has(key); n++) key = `${base} #${n}`;
    out.set(key, row);
  }
  return out;
}

function ms(row: Row, field: string): number | null {
  const v = row[field];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * Matches the rows of two results objects family by family.
 *
 * @param a The first results object (the baseline of the ratios).
 * @param b The second.
 * @param specs The families (default: those `deno task bench` writes).
 * @returns Medians of matched rows with B/A, and the rows found in one file only, each in file order.
 */
export function compareResults(a: Row, b: Row, specs: FamilySpec[] = FAMILY_SPECS): Comparison {
  const out: Comparison = { matched: [], onlyA: [], onlyB: [] };
  for (const spec of specs) {
    const rowsA = byKey(rowsOf(a, spec), spec);
    const rowsB = byKey(rowsOf(b, spec), spec);
    for (const [row, ra] of rowsA) {
      const rb = rowsB.get(row);
      if (!rb) {
        out.onlyA.push({ family: spec.name, row });
        continue;
      }
      const note = (spec.notes ?? []).filter((f) => ra[f] !== rb[f]).map((f) => `${f} ${ra[f]} → ${rb[f]}`).join(", ");
      for (const median of spec.medians) {
        const [va, vb] = [ms(ra, median), ms(rb, median)];
        if (va === null && vb === null) continue;
        const ratio = va !== null && vb !== null && va > 0 ? vb / va : null;
        out.matched.push({ family: spec.name, row, median, note, a: va, b: vb, ratio });
      }
    }
    for (const row of rowsB.keys()) if (!rowsA.has(row)) out.onlyB.push({ family: spec.name, row });
  }
  return out;
}

/** What a file's header line says about it: adapter, date and, when recorded, the commit. */
function describe(results: Row): string {
  const adapter = (results.adapter as Row | undefined)?.description ?? "unknown adapter";
  const date = typeof results.date === "string" ? results.date.slice(0, 10) : "undated";
  const git = (results.machine as Row | undefined)?.git as Row | null | undefined;
  const commit = typeof git?.commit === "string" ? `, commit ${git.commit.slice(0, 7)}` : "";
  return `${adapter}, ${date}${commit}`;
}

/**
 * The comparison as a markdown table and two lists.
 *
 * @param c The comparison.
 * @param files The two files' names and results objects, for the header.
 * @returns The report's lines.
 */
export function formatComparison(c: Comparison, files: { a: [string, Row]; b: [string, Row] }): string[] {
  const cell = (v: number | null) => (v === null ? "–" : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)); // 3 figures
  const lines = [
    `A: ${files.a[0]} (${describe(files.a[1])})`,
    `B: ${files.b[0]} (${describe(files.b[1])})`,
    "",
  ];
  if (c.matched.length) {
    lines.push(
      "| family | row | median | A ms | B ms | B/A |",
      "|---|---|---|---:|---:|---:|",
      ...c.matched.map((m) =>
        `| ${m.family} | ${m.row}${m.note ? ` (${m.note})` : ""} | ${m.median} | ${cell(m.a)} | ${cell(m.b)} | ` +
        `${m.ratio === null ? "–" : `${m.ratio.toFixed(2)}×`} |`
      ),
    );
  } else {
    lines.push("No row is in both files.");
  }
  for (const [which, rows] of [["A", c.onlyA], ["B", c.onlyB]] as const) {
    if (!rows.length) continue;
    lines.push("", `Only in ${which}:`);
    for (const r of rows) lines.push(`- ${r.family}: ${r.row}`);
  }
  return lines;
}

/**
 * Reads two results files and formats their comparison.
 *
 * @param pathA The baseline file.
 * @param pathB The other file.
 * @returns The report's lines.
 * @throws {Error} When a file cannot be read or is not a JSON object.
 */
export async function compareFiles(pathA: string, pathB: string): Promise<string[]> {
  const read = async (path: string): Promise<Row> => {
    let value;
    try {
      value = JSON.parse(await Deno.readTextFile(path));
    } catch (error) {
      const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new Error(`Cannot compare ${path}: ${why}`, { cause: error }); // which of the two files, and why
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      const kind = Array.isArray(value) ? "an array" : value === null ? "null" : typeof value;
      throw new TypeError(`Cannot compare ${path} as it is not a results object: current value is ${kind}`);
    }
    return value;
  };
  const [a, b] = [await read(pathA), await read(pathB)];
  return formatComparison(compareResults(a, b), { a: [pathA, a], b: [pathB, b] });
}
