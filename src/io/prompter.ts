import * as p from "@clack/prompts";
import { PassThrough, type Readable } from "node:stream";
import { styleText } from "node:util";
import type { Prompter, SelectOption, Spinner } from "../deps.ts";
import { AuthctlError } from "../errors.ts";

/**
 * @clack/prompts, pointed at stderr: stdout belongs to scripts (`eval "$(authctl env …)"` may
 * run the login wizard first, and nothing of the wizard may land in the eval).
 */
const output = process.stderr;

function unwrap<T>(value: T): Exclude<T, symbol> {
  if (p.isCancel(value)) throw new AuthctlError("CANCELLED", "cancelled");
  return value as Exclude<T, symbol>;
}

const clackOptions = <T extends string>(options: SelectOption<T>[]) =>
  // clack's Option type is conditional on T; the shape we pass is the primitive-value one.
  options.map((o) => ({ value: o.value, label: o.label, hint: o.hint })) as never;

export function createClackPrompter(): Prompter {
  return {
    async password(message) {
      // A line break inside a pasted key joins as a space: normalizeKey removes it and says so,
      // exactly as for a key piped to --with-key.
      return unwrap(
        await withBracketedPaste(" ", (input) => p.password({ message, mask: "•", input, output })),
      );
    },
    async text(message, options) {
      const signal = options?.signal;
      // A redirect URL copied from a narrow window may carry the wrap as a line break: drop it.
      const value = await withBracketedPaste(
        "",
        (input, filtered) =>
          p.text({
            message,
            placeholder: options?.placeholder,
            input,
            output,
            signal: filtered ? undefined : signal,
          }),
        signal,
      );
      if (signal?.aborted) throw new AuthctlError("CANCELLED", "cancelled");
      return unwrap(value);
    },
    async confirm(message, initial = true) {
      return unwrap(await p.confirm({ message, initialValue: initial, output }));
    },
    async select<T extends string>(
      message: string,
      options: SelectOption<T>[],
      settings?: { initial?: T; search?: boolean },
    ) {
      if (settings?.search) {
        const picked = unwrap(
          await p.autocomplete<T>({
            message,
            options: clackOptions(options),
            initialValue: settings.initial,
            placeholder: "type to filter",
            maxItems: 10,
            filter: (search, option) =>
              matchesSearch(search, `${option.label ?? ""} ${String(option.value)}`),
            // Enter on an empty list submitted nothing, and the login crashed on it.
            validate: (value) =>
              value === undefined || (Array.isArray(value) && value.length === 0)
                ? "nothing matches: delete a few letters"
                : undefined,
            output,
          }),
        );
        if (picked === undefined) throw new AuthctlError("CANCELLED", "nothing was picked");
        return picked;
      }
      return unwrap(
        await p.select<T>({
          message,
          options: clackOptions(options),
          initialValue: settings?.initial,
          output,
        }),
      );
    },
    async multiselect<T extends string>(message: string, options: SelectOption<T>[]) {
      return unwrap(
        await p.multiselect<T>({ message, options: clackOptions(options), required: false, output }),
      );
    },
  };
}

/**
 * Names and ids only (hints mention other providers, and words like "key" everywhere). A word
 * that starts with what was typed matches ("gi": GitHub, Gemini); from three letters on, any part
 * does ("router": OpenRouter) — a bare substring made "o" match nearly every provider.
 */
export function matchesSearch(search: string, text: string): boolean {
  const wanted = search.trim().toLowerCase();
  if (!wanted) return true;
  const haystack = text.toLowerCase();
  if (wanted.length >= 3 && haystack.includes(wanted)) return true;
  return haystack.split(/[^a-z0-9]+/).some((word) => word.startsWith(wanted));
}

const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";

/**
 * Runs a clack prompt with bracketed paste on (the terminal marks a paste with ESC[200~ … ESC[201~).
 * Without it a line break inside a pasted key reaches the prompt as Enter: the prompt submits the
 * first line and the rest is lost (or typed into the shell). The prompt reads from a filter that
 * turns line breaks inside a paste into `joinWith` and drops the other control characters of a
 * paste, so a pasted Ctrl-C or Enter never acts; typed keys pass through unchanged.
 */
async function withBracketedPaste<T>(
  joinWith: string,
  run: (input: Readable, filtered: boolean) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return run(stdin, false);
  const input = new PassThrough();
  // Ended from outside (the browser came back): clack's own abort leaves the prompt drawn as if
  // still waiting, so the prompt is finished as if submitted empty (Ctrl-E, Ctrl-U, Enter) and
  // shows as done; the caller sees the aborted signal and ignores the value.
  const finish = () => input.write("\x05\x15\r");
  signal?.addEventListener("abort", finish, { once: true });
  let inPaste = false;
  let pending = "";
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  const clean = (pasted: string) =>
    pasted.replace(/\r\n|[\r\n\t]/g, joinWith).replace(/[\x00-\x1f\x7f]/g, "");
  const emit = (text: string) => {
    if (text) input.write(text);
  };
  const feed = (chunk: string) => {
    let text = pending + chunk;
    pending = "";
    clearTimeout(flushTimer);
    while (text) {
      const marker = inPaste ? PASTE_END : PASTE_START;
      const at = text.indexOf(marker);
      const upto = at === -1 ? text.length : at;
      let part = text.slice(0, upto);
      if (at === -1) {
        // A marker split across reads: hold its beginning back until the next read (or a moment).
        const keep = partialMarkerLength(part, marker);
        pending = part.slice(part.length - keep);
        part = part.slice(0, part.length - keep);
      }
      emit(inPaste ? clean(part) : part);
      if (at === -1) break;
      inPaste = !inPaste;
      text = text.slice(at + marker.length);
    }
    // A lone ESC typed outside a paste is the Escape key: deliver it shortly if nothing follows.
    if (pending) {
      flushTimer = setTimeout(() => {
        const held = pending;
        pending = "";
        emit(inPaste ? clean(held) : held);
      }, 60);
    }
  };
  const onData = (data: Buffer | string) => feed(typeof data === "string" ? data : data.toString("utf8"));
  const restore = () => {
    clearTimeout(flushTimer);
    stdin.off("data", onData);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    output.write("\x1b[?2004l");
  };
  stdin.setRawMode(true);
  stdin.on("data", onData);
  stdin.resume();
  output.write("\x1b[?2004h");
  process.once("exit", restore);
  try {
    if (signal?.aborted) finish();
    return await run(input, true);
  } finally {
    signal?.removeEventListener("abort", finish);
    process.off("exit", restore);
    restore();
    input.end();
  }
}

/** How many characters at the end of `text` could begin `marker`. */
function partialMarkerLength(text: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) {
    if (marker.startsWith(text.slice(text.length - n))) return n;
  }
  return 0;
}

/**
 * A spinner for waits (device-code approval). Not clack's: while it spins, clack reads the
 * terminal raw and answers Ctrl-C with process.exit(0), so a cancelled login reported success to
 * the shell (`authctl login … && next` ran `next`). This one also reads raw (so typed keys do not
 * smear the line), but hands Ctrl-C back to the process as the SIGINT it would have been: the
 * login's interrupt handler cancels it, with exit 2.
 */
export function createClackSpinner(): Spinner {
  // clack's own symbols, so the spinner matches the prompts (ASCII where the locale is not UTF-8).
  const frames = p.unicode ? ["◒", "◐", "◓", "◑"] : ["•", "o", "O", "0"];
  const stdin = process.stdin;
  let timer: ReturnType<typeof setInterval> | undefined;
  let text = "";
  let frame = 0;
  const draw = () => {
    output.write(`\r\x1b[2K${styleText("magenta", frames[frame]!)}  ${text}`);
    frame = (frame + 1) % frames.length;
  };
  const onData = (data: Buffer | string) => {
    const keys = typeof data === "string" ? data : data.toString("latin1");
    if (keys.includes("\x03")) process.kill(process.pid, "SIGINT");
    else if (keys.includes("\x1c")) process.kill(process.pid, "SIGQUIT");
  };
  const release = () => {
    if (timer === undefined) return;
    clearInterval(timer);
    timer = undefined;
    stdin.off("data", onData);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    output.write("\r\x1b[2K\x1b[?25h");
  };
  return {
    start(message) {
      text = message;
      output.write(`${styleText("gray", p.S_BAR)}\n\x1b[?25l`);
      if (stdin.isTTY) {
        stdin.setRawMode(true);
        stdin.on("data", onData);
        stdin.resume();
      }
      process.once("exit", release);
      draw();
      timer = setInterval(draw, 120);
    },
    message(message) {
      text = message;
    },
    stop(message = "", outcome = "done") {
      const running = timer !== undefined;
      release();
      process.off("exit", release);
      if (!running) return;
      const mark =
        outcome === "done"
          ? styleText("green", p.S_STEP_SUBMIT)
          : styleText("red", outcome === "cancelled" ? p.S_STEP_CANCEL : p.S_STEP_ERROR);
      output.write(`${mark}  ${message}\n`);
    },
  };
}
