/**
 * Headless Chromium driven over the DevTools protocol (CDP) from Deno: launch
 * it with WebGPU on (SwiftShader when there is no GPU), open a page, evaluate
 * code in it and await its promises, take screenshots, and always shut it
 * down. Deno's own WebSocket carries the protocol, so no npm client and no
 * browser download are needed. Deno only (spawns a process).
 *
 * @module
 */

/** Where Debian's `chromium` package puts the real binary (its /usr/bin wrapper prints a shell error here). */
export const CHROMIUM_BIN = "/usr/lib/chromium/chromium";

/** The binary to run: `CHROMIUM_BIN` from the environment, else Debian's. */
export function chromiumPath(): string {
  return Deno.env.get("CHROMIUM_BIN") || CHROMIUM_BIN;
}

/** Thrown when Chromium is not installed: a missing browser fails the run, it never skips it. */
export class ChromiumMissingError extends Error {
  /**
   * @param path The binary looked for.
   */
  constructor(path: string) {
    super(
      `Chromium is missing at ${path}: install chromium (apt-get install -y chromium; .ci/run does) ` +
        "or set CHROMIUM_BIN; the browser tests fail without it, they never skip",
    );
    this.name = "ChromiumMissingError";
  }
}

/** A message the page logged (console API or an uncaught exception). */
export interface PageLog {
  /** `log`, `warning`, `error`, ... or `exception`. */
  type: string;
  /** The text. */
  text: string;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void; method: string };

/** One CDP connection (a browser target), with flattened sessions for pages. */
class Cdp {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<(method: string, params: Record<string, unknown>, session?: string) => void>();
  #next = 1;
  #closed: Error | null = null;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data as string);
      if (message.id !== undefined) {
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        if (message.error) {
          pending.reject(new Error(`CDP ${pending.method} failed: ${message.error.message} (${message.error.code})`));
        } else {
          pending.resolve(message.result);
        }
      } else {
        for (const listener of this.#listeners) listener(message.method, message.params ?? {}, message.sessionId);
      }
    };
    socket.onclose = () => {
      this.#closed = new Error("CDP connection closed (did Chromium crash?)");
      for (const pending of this.#pending.values()) pending.reject(this.#closed);
      this.#pending.clear();
    };
  }

  static connect(url: string): Promise<Cdp> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.onopen = () => resolve(new Cdp(socket));
      socket.onerror = (event) => reject(new Error(`cannot connect to ${url}: ${(event as ErrorEvent).message}`));
    });
  }

  send<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
    session?: string,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#next++;
    this.#socket.send(JSON.stringify({ id, method, params, ...(session ? { sessionId: session } : {}) }));
    return new Promise((resolve, reject) =>
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method })
    );
  }

  /** Adds an event listener; returns the function that removes it. */
  on(listener: (method: string, params: Record<string, unknown>, session?: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    if (this.#socket.readyState === WebSocket.OPEN || this.#socket.readyState === WebSocket.CONNECTING) {
      this.#socket.close();
    }
  }
}

/** The result of `Runtime.evaluate`. */
interface EvaluateResult {
  result: { value?: unknown; description?: string };
  exceptionDetails?: { text: string; exception?: { description?: string; value?: unknown } };
}

/** A page (tab) in the browser. */
export class Page {
  readonly #cdp: Cdp;
  readonly #session: string;
  /** Everything the page logged so far, in order. */
  readonly logs: PageLog[] = [];

  /** @internal */
  constructor(cdp: Cdp, session: string, onLog?: (log: PageLog) => void) {
    this.#cdp = cdp;
    this.#session = session;
    cdp.on((method, params, session) => {
      if (session !== this.#session) return;
      let log: PageLog | null = null;
      if (method === "Runtime.consoleAPICalled") {
        const args = params.args as { value?: unknown; description?: string }[];
        const text = args.map((a) => (typeof a.value === "string" ? a.value : a.description ?? JSON.stringify(a.value)))
          .join(" ");
        log = { type: params.type as string, text };
      } else if (method === "Runtime.exceptionThrown") {
        const details = params.exceptionDetails as EvaluateResult["exceptionDetails"];
        log = { type: "exception", text: details?.exception?.description ?? details?.text ?? "exception" };
      }
      if (log) {
        this.logs.push(log);
        onLog?.(log);
      }
    });
  }

  /** Sends a CDP command to this page. */
  send<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    return this.#cdp.send<T>(method, params, this.#session);
  }

  /**
   * Navigates and waits for the load event.
   *
   * @param url The page.
   * @param timeoutMs How long to wait for the load event.
   */
  async goto(url: string, timeoutMs = 30_000): Promise<void> {
    let off = () => {};
    const loaded = new Promise<void>((resolve) =>
      off = this.#cdp.on((method, _params, session) => {
        if (session === this.#session && method === "Page.loadEventFired") resolve();
      })
    );
    try {
      const navigation = await this.send<{ errorText?: string }>("Page.navigate", { url });
      if (navigation.errorText) throw new Error(`cannot load ${url}: ${navigation.errorText}`);
      await withTimeout(loaded, timeoutMs, `loading ${url}`);
    } finally {
      off();
    }
  }

  /**
   * Evaluates `expression` in the page, awaits it when it is a promise, and
   * returns its value (JSON-serialisable values only).
   *
   * @param expression JavaScript.
   * @param timeoutMs Fails after this long (the page keeps running).
   * @returns The value.
   * @throws {Error} When the expression throws or rejects (the page's stack in the message), or times out.
   */
  async evaluate<T = unknown>(expression: string, timeoutMs = 60_000): Promise<T> {
    const result = await withTimeout(
      this.send<EvaluateResult>("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }),
      timeoutMs,
      `evaluating ${expression.slice(0, 80)}`,
    );
    if (result.exceptionDetails) {
      const d = result.exceptionDetails;
      throw new Error(d.exception?.description ?? String(d.exception?.value ?? d.text));
    }
    return result.result.value as T;
  }

  /**
   * A PNG of the page: the viewport, or with `fullPage` all of its content.
   *
   * @param options `fullPage`: capture beyond the viewport, the whole content.
   * @returns The PNG's bytes.
   */
  async screenshot(options: { fullPage?: boolean } = {}): Promise<Uint8Array> {
    const params: Record<string, unknown> = { format: "png" };
    if (options.fullPage) {
      const { cssContentSize: size } = await this.send<{ cssContentSize: { width: number; height: number } }>(
        "Page.getLayoutMetrics",
      );
      params.captureBeyondViewport = true;
      params.clip = { x: 0, y: 0, width: Math.ceil(size.width), height: Math.ceil(size.height), scale: 1 };
    }
    const { data } = await this.send<{ data: string }>("Page.captureScreenshot", params);
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  }
}

/** Rejects with a message naming `what` when `promise` takes longer than `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A running headless Chromium. Close it in a `finally`. */
export class Chromium {
  readonly #process: Deno.ChildProcess;
  readonly #cdp: Cdp;
  readonly #profile: string;
  readonly #stderr: string[];
  #closed = false;

  private constructor(process: Deno.ChildProcess, cdp: Cdp, profile: string, stderr: string[]) {
    this.#process = process;
    this.#cdp = cdp;
    this.#profile = profile;
    this.#stderr = stderr;
  }

  /**
   * Starts headless Chromium with WebGPU enabled and connects to it.
   *
   * @param options `args`: extra command-line flags; `timeoutMs`: how long to wait for its DevTools endpoint.
   * @returns The browser.
   * @throws {ChromiumMissingError} When the binary is not installed.
   * @throws {Error} When it does not start (its last stderr lines in the message).
   */
  static async launch(options: { args?: string[]; timeoutMs?: number } = {}): Promise<Chromium> {
    const path = chromiumPath();
    try {
      await Deno.stat(path);
    } catch {
      throw new ChromiumMissingError(path);
    }
    const profile = await Deno.makeTempDir({ prefix: "ncegpu-chromium-" });
    const child = new Deno.Command(path, {
      args: [
        "--headless=new",
        "--no-sandbox",
        "--enable-unsafe-webgpu",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu-process-crash-limit",
        "--window-size=1280,1000",
        ...(options.args ?? []),
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr: string[] = [];
    let endpoint: (url: string) => void = () => {};
    const found = new Promise<string>((resolve) => endpoint = resolve);
    // Keep draining stderr for the whole run: a full pipe would block Chromium.
    (async () => {
      let buffer = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        for (const line of lines) {
          stderr.push(line);
          if (stderr.length > 50) stderr.shift();
          const match = line.match(/DevTools listening on (ws:\/\/\S+)/);
          if (match) endpoint(match[1]);
        }
      }
    })().catch(() => {});
    try {
      const exited = child.status.then((s) => {
        throw new Error(`Chromium exited with code ${s.code} before it listened:\n${stderr.join("\n")}`);
      });
      const url = await withTimeout(Promise.race([found, exited]), options.timeoutMs ?? 30_000, "starting Chromium");
      return new Chromium(child, await Cdp.connect(url), profile, stderr);
    } catch (error) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  /** Chromium's last stderr lines (for diagnostics). */
  get stderr(): string {
    return this.#stderr.join("\n");
  }

  /**
   * Opens a new tab.
   *
   * @param onLog Called with every message the page logs.
   * @returns The page, at about:blank.
   */
  async newPage(onLog?: (log: PageLog) => void): Promise<Page> {
    const { targetId } = await this.#cdp.send<{ targetId: string }>("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.#cdp.send<{ sessionId: string }>("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    const page = new Page(this.#cdp, sessionId, onLog);
    await page.send("Page.enable");
    await page.send("Runtime.enable");
    return page;
  }

  /** Closes the browser, waits for its process to end (killing it if it lingers) and removes its profile. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await withTimeout(this.#cdp.send("Browser.close"), 5_000, "closing Chromium").catch(() => {});
    this.#cdp.close();
    const ended = await withTimeout(this.#process.status, 5_000, "waiting for Chromium to exit").catch(() => null);
    if (!ended) {
      try {
        this.#process.kill("SIGKILL");
      } catch { /* already gone */ }
      await this.#process.status;
    }
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}
