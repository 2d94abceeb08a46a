import type { Subprocess } from "bun";
import { hardenProcess, restoreCoreLimit } from "./harden.ts";

/**
 * Child processes. `exec` prefers execve (the child becomes this process: signals, exit status
 * and the terminal are its own, as with aws-vault exec and direnv exec); spawning is the fallback
 * for platforms without execve and for launches that must be outlived.
 */
type ExecveProcess = NodeJS.Process & {
  execve?: (file: string, args: string[], env: Record<string, string>) => never;
};

export function replaceProcessAvailable(): boolean {
  return typeof (process as ExecveProcess).execve === "function" && process.platform !== "win32";
}

/**
 * The signals Bun sets to "ignore" as it starts (seen with strace: SIGPIPE and SIGXFSZ), which an
 * ignored signal keeps across execve. exec's child started with them ignored, unlike the same
 * command run from the shell: `yes | head -1` inside it printed "yes: standard output: Broken
 * pipe", and a pipeline's writer exited 1 instead of dying of SIGPIPE (141), for every pipeline an
 * agent ran through its shell tool. Bun.spawn's children get them back (exec --proxy, spawn mode).
 */
const IGNORED_BY_THE_RUNTIME = ["SIGPIPE", "SIGXFSZ"] as const;
const nothing = () => {};

export function replaceProcess(file: string, argv: string[], env: Record<string, string>): never {
  const execve = (process as ExecveProcess).execve!;
  restoreCoreLimit();
  // A signal with a handler is reset to its default action by execve; an ignored one is not. A
  // listener makes Bun install a handler in place of "ignore", so the child starts with the
  // default, as Rust's and Python's process launchers give their children. (What authctl itself
  // inherited for these two is lost when Bun starts: a parent that ignored SIGPIPE on purpose is
  // not seen. Every other signal, ignored or not, reaches the child as authctl got it.) Left in
  // place if execve fails: a handler that does nothing is as good as "ignore" for authctl's error.
  for (const signal of IGNORED_BY_THE_RUNTIME) process.on(signal, nothing);
  try {
    return execve(file, argv, env);
  } catch (error) {
    // Only when execve failed (it does not return otherwise): the runtime has queued its
    // "ExperimentalWarning: process.execve is an experimental feature" for the next tick, and it
    // would be printed beside authctl's one-line error. Nothing else is listening for warnings.
    process.removeAllListeners("warning");
    throw error;
  }
}

const FORWARDED: NodeJS.Signals[] = [
  "SIGTERM",
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
];

export async function spawnInherit(
  file: string,
  argv: string[],
  env: Record<string, string>,
): Promise<number> {
  // authctl stays the parent, holding the credential (and with --proxy, every provider's) for as
  // long as the child runs: no core dump of it. The child gets the core-file limit it would have had.
  await hardenProcess();
  restoreCoreLimit();
  // A terminal delivers Ctrl-C and Ctrl-\ to the whole foreground process group, so the child has
  // them already; forwarding would deliver them twice (DopplerHQ/cli#142). Without a terminal
  // (docker stop, systemd, CI) only authctl gets the signal, and it must pass it on.
  // node:tty and node:os load here, not at start-up: `exec` usually replaces itself (execve) and
  // never needs them, and each costs the hot path memory (see main.ts).
  const { isatty } = require("node:tty") as typeof import("node:tty");
  const { constants } = require("node:os") as typeof import("node:os");
  const fromTerminal = new Set<NodeJS.Signals>(isatty(0) ? ["SIGINT", "SIGQUIT"] : []);
  // The handlers go in before the child exists: a SIGTERM between the spawn and the handlers
  // would kill authctl with the default action and orphan the child (issue 12). The handlers run
  // on the event loop, after this synchronous spawn, so `child` is always set when one runs.
  let child: Subprocess | undefined;
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of FORWARDED) {
    const handler = () => {
      if (!fromTerminal.has(signal)) child?.kill(signal);
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  try {
    child = Bun.spawn([file, ...argv.slice(1)], { stdio: ["inherit", "inherit", "inherit"], env });
    const code = await child.exited;
    if (child.signalCode) return 128 + (constants.signals[child.signalCode as NodeJS.Signals] ?? 0);
    return code;
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}

export function which(command: string, path: string | undefined): string | null {
  return Bun.which(command, { PATH: path ?? "" });
}
