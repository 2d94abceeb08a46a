import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A real terminal for the wizard: tmux runs the binary in a pane, `type` sends keys, `screen`
 * reads what a person would see. Used to prove the key prompt is masked and the picker works.
 */
export const hasTmux = Boolean(Bun.which("tmux"));
const shell = Bun.which("bash") ? "bash" : "sh";

export interface Terminal {
  type(...keys: string[]): void;
  /**
   * Pastes as a terminal does: bracketed (ESC[200~ … ESC[201~) when the program asked for it, each
   * line break sent as CR (what a real paste of a wrapped line delivers).
   */
  paste(text: string): void;
  screen(): string;
  waitFor(text: string, timeoutMs?: number): Promise<string>;
  /** Waits for the command to finish and returns its exit status (written by the wrapper). */
  exitCode(timeoutMs?: number): Promise<number>;
  kill(): void;
}

let counter = 0;
export function openTerminal(command: string, env: Record<string, string>, dir: string): Terminal {
  const name = `authctl-test-${process.pid}-${++counter}`;
  const statusFile = join(dir, `${name}.status`);
  const envArgs = Object.entries(env)
    .map(([k, v]) => `${k}=${shellQuote(v)}`)
    .join(" ");
  // bash, not dash: a Ctrl-C that authctl handles (exit 2) must not kill the shell around it. bash
  // waits for the child and goes on unless the child died of SIGINT, as an interactive shell does;
  // dash dies of the terminal's SIGINT itself, and the exit status would never be written.
  const inner = `env -i ${envArgs} TERM=xterm-256color ${shell} -c ${shellQuote(command)}; echo $? > ${shellQuote(statusFile)}; sleep 30`;
  const script = `exec ${shell} -c ${shellQuote(inner)}`;
  const started = Bun.spawnSync([
    "tmux",
    "-L",
    name,
    "new-session",
    "-d",
    "-s",
    name,
    "-x",
    "120",
    "-y",
    "40",
    script,
  ]);
  if (started.exitCode !== 0) throw new Error(`tmux failed: ${started.stderr.toString()}`);
  const tmux = (...args: string[]) => Bun.spawnSync(["tmux", "-L", name, ...args]);
  const screen = () => tmux("capture-pane", "-p", "-t", name).stdout.toString();
  return {
    type: (...keys) => void tmux("send-keys", "-t", name, ...keys),
    paste(text) {
      tmux("set-buffer", "-b", "paste", text);
      tmux("paste-buffer", "-p", "-d", "-b", "paste", "-t", name);
    },
    screen,
    async waitFor(text, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const s = screen();
        if (s.includes(text)) return s;
        await Bun.sleep(50);
      }
      throw new Error(`timed out waiting for ${JSON.stringify(text)}; screen:\n${screen()}`);
    },
    async exitCode(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (existsSync(statusFile)) {
          const text = readFileSync(statusFile, "utf8").trim();
          if (text) return Number(text);
        }
        await Bun.sleep(50);
      }
      throw new Error(`command did not finish; screen:\n${screen()}`);
    },
    kill: () => void tmux("kill-server"),
  };
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
