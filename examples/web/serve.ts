/**
 * `deno task web` — builds the demo page (examples/web/) and serves it on
 * 127.0.0.1 at a free port (or `--port N`), printing the URL. It also serves
 * Fashion-MNIST's four gzip IDX files under /data/fashion-mnist/ when
 * Debian's `dataset-fashion-mnist` is installed (or `--data DIR` has them),
 * so that the page trains on real images; without them the page uses the
 * synthetic set. Ctrl-C stops it.
 *
 *   deno task web [--port N] [--data DIR]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { FASHION_MNIST_DIR, hasMnistFiles } from "../../src/data/fashion_mnist.ts";
import { buildWeb } from "./build.ts";

const DATA_FILES = [
  "train-images-idx3-ubyte",
  "train-labels-idx1-ubyte",
  "t10k-images-idx3-ubyte",
  "t10k-labels-idx1-ubyte",
];

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  gz: "application/gzip",
};

/** A running demo server. */
export interface DemoServer {
  /** The page's URL, `http://127.0.0.1:PORT/`. */
  url: string;
  /** Where Fashion-MNIST is served from, or null (the page then trains on the synthetic set). */
  dataDir: string | null;
  /** Stops serving and removes the build. */
  close(): Promise<void>;
}

/** A file's bytes as a response, gzipped on the way when the folder has it uncompressed only. */
async function dataFile(dir: string, stem: string): Promise<Response> {
  try {
    return new Response((await Deno.open(`${dir}/${stem}.gz`)).readable, { headers: { "content-type": TYPES.gz } });
  } catch {
    const file = await Deno.open(`${dir}/${stem}`);
    return new Response(file.readable.pipeThrough(new CompressionStream("gzip")), {
      headers: { "content-type": TYPES.gz },
    });
  }
}

/**
 * Builds the page into a temporary folder and serves it.
 *
 * @param options `port` (default 0: a free one); `data`: the Fashion-MNIST folder, or null for none (default
 * {@linkcode FASHION_MNIST_DIR} when it holds the four files).
 * @returns The server.
 */
export async function serveDemo(options: { port?: number; data?: string | null } = {}): Promise<DemoServer> {
  const dataDir = options.data !== undefined
    ? options.data
    : (await hasMnistFiles(FASHION_MNIST_DIR) ? FASHION_MNIST_DIR : null);
  if (dataDir !== null && !(await hasMnistFiles(dataDir))) {
    throw new RangeError(
      `Cannot serve the demo as --data must hold the four Fashion-MNIST files: current value is ${dataDir}`,
    );
  }
  const site = await Deno.makeTempDir({ prefix: "ncegpu-web-" });
  try {
    await buildWeb(site, { core: false });
  } catch (error) {
    await Deno.remove(site, { recursive: true });
    throw error;
  }
  const server = Deno.serve({ hostname: "127.0.0.1", port: options.port ?? 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    const data = path.match(/^\/data\/fashion-mnist\/([\w-]+)\.gz$/);
    try {
      if (data && dataDir !== null && DATA_FILES.includes(data[1])) return await dataFile(dataDir, data[1]);
      const name = path === "/" ? "index.html" : path.slice(1);
      if (/^[\w.-]+\.(html|js)$/.test(name)) {
        const type = TYPES[name.slice(name.lastIndexOf(".") + 1)];
        return new Response((await Deno.open(`${site}/${name}`)).readable, { headers: { "content-type": type } });
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return new Response("not found", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    dataDir,
    async close() {
      await server.shutdown();
      await Deno.remove(site, { recursive: true }).catch(() => {});
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "0" }, data: { type: "string" } },
  });
  const demo = await serveDemo({ port: Number(values.port), data: values.data });
  console.log(`ncegpu demo: ${demo.url}`);
  console.log(
    demo.dataDir
      ? `Fashion-MNIST served from ${demo.dataDir}`
      : "no Fashion-MNIST here (apt-get install dataset-fashion-mnist): the page trains on the synthetic set",
  );
  console.log("add ?steps=N&autostart=1 to run N steps at once; Ctrl-C stops the server");
  Deno.addSignalListener("SIGINT", async () => {
    await demo.close();
    Deno.exit(0);
  });
}
