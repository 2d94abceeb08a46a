/**
 * Text a server chose (a device `user_code`, a `verification_uri`, an id_token's `email`, an
 * error body) is shown to a person only after this: ESC/CSI/OSC sequences, C0 and C1 controls,
 * DEL and the Unicode bidi overrides are removed, so a hostile server cannot clear the screen,
 * retitle the terminal, hide text or reorder what the user reads (gh does the same before it
 * prints a server's text). Newlines and tabs become spaces: these strings are shown on one line.
 */
// biome-ignore lint: control characters are the point of this pattern.
const CONTROLS =
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function terminalSafe(text: string): string {
  return text.replace(CONTROLS, (match) => (match === "\n" || match === "\t" || match === "\r" ? " " : ""));
}

/**
 * The same, for whole messages at the output boundary (main.ts's error report, io/ui.ts): every
 * line authctl prints to a person passes through here, so server text that a code path forgot to
 * clean (an etcd member's error, a provider's refusal) cannot drive the terminal either: no OSC 52
 * clipboard write, no OSC 8 hyperlink, no screen clear, no carriage return that overwrites what was
 * printed. Newlines (multi-line notices) and tabs are kept; a lone carriage return becomes a space.
 */
export function terminalLines(text: string): string {
  return text.replace(CONTROLS, (match) =>
    match === "\n" || match === "\t" ? match : match === "\r" ? " " : "",
  );
}
