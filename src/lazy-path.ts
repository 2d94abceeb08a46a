/**
 * The path functions `env`, `token` and `exec` call, without loading node:path: it costs a compiled
 * binary about 2 MiB of memory (scripts/bench.ts: a hello-world that loads it peaks at 26.9 MiB
 * instead of 24.7). On POSIX, `join`, `resolve`, `isAbsolute` and `dirname` are Node's own algorithm (lib/path.js,
 * `normalizeString`), checked against node:path.posix in test/unit/lazy-path.test.ts; on Windows,
 * and for the functions only writes and error messages use, node:path itself on first call.
 */
import type * as Path from "node:path";

let path: typeof Path | undefined;
const load = (): typeof Path => (path ??= require("node:path") as typeof Path);
const WINDOWS = process.platform === "win32";

/** Node's posix normalizeString: resolves `.` and `..` and collapses repeated slashes. */
function normalizeString(text: string, allowAboveRoot: boolean): string {
  let res = "";
  let lastSegmentLength = 0;
  let lastSlash = -1;
  let dots = 0;
  let char = "";
  for (let i = 0; i <= text.length; ++i) {
    if (i < text.length) char = text[i]!;
    else if (char === "/") break;
    else char = "/";
    if (char === "/") {
      if (lastSlash === i - 1 || dots === 1) {
        // An empty segment or ".": nothing to add.
      } else if (dots === 2) {
        if (res.length < 2 || lastSegmentLength !== 2 || !res.endsWith("..")) {
          if (res.length > 2) {
            const lastSlashIndex = res.lastIndexOf("/");
            if (lastSlashIndex === -1) {
              res = "";
              lastSegmentLength = 0;
            } else {
              res = res.slice(0, lastSlashIndex);
              lastSegmentLength = res.length - 1 - res.lastIndexOf("/");
            }
            lastSlash = i;
            dots = 0;
            continue;
          }
          if (res.length !== 0) {
            res = "";
            lastSegmentLength = 0;
            lastSlash = i;
            dots = 0;
            continue;
          }
        }
        if (allowAboveRoot) {
          res += res.length > 0 ? "/.." : "..";
          lastSegmentLength = 2;
        }
      } else {
        if (res.length > 0) res += `/${text.slice(lastSlash + 1, i)}`;
        else res = text.slice(lastSlash + 1, i);
        lastSegmentLength = i - lastSlash - 1;
      }
      lastSlash = i;
      dots = 0;
    } else if (char === "." && dots !== -1) {
      ++dots;
    } else {
      dots = -1;
    }
  }
  return res;
}

function normalize(text: string): string {
  if (text.length === 0) return ".";
  const absolute = text.startsWith("/");
  const trailingSeparator = text.endsWith("/");
  let out = normalizeString(text, !absolute);
  if (out.length === 0) return absolute ? "/" : trailingSeparator ? "./" : ".";
  if (trailingSeparator) out += "/";
  return absolute ? `/${out}` : out;
}

export function join(...parts: string[]): string {
  if (WINDOWS) return load().join(...parts);
  const nonEmpty = parts.filter((part) => part.length > 0);
  return nonEmpty.length === 0 ? "." : normalize(nonEmpty.join("/"));
}

export function isAbsolute(text: string): boolean {
  return WINDOWS ? load().isAbsolute(text) : text.startsWith("/");
}

export function resolve(...parts: string[]): string {
  if (WINDOWS) return load().resolve(...parts);
  let resolved = "";
  let absolute = false;
  for (let i = parts.length - 1; i >= -1 && !absolute; i--) {
    const part = i >= 0 ? parts[i]! : process.cwd();
    if (part.length === 0) continue;
    resolved = `${part}/${resolved}`;
    absolute = part.startsWith("/");
  }
  resolved = normalizeString(resolved, !absolute);
  if (absolute) return `/${resolved}`;
  return resolved.length > 0 ? resolved : ".";
}

/** Node's posix dirname (lib/path.js): `env` without a provider walks up the tree with it. */
export function dirname(text: string): string {
  if (WINDOWS) return load().dirname(text);
  if (text.length === 0) return ".";
  const hasRoot = text.startsWith("/");
  let end = -1;
  let matchedSlash = true;
  for (let i = text.length - 1; i >= 1; --i) {
    if (text[i] === "/") {
      if (!matchedSlash) {
        end = i;
        break;
      }
    } else matchedSlash = false;
  }
  if (end === -1) return hasRoot ? "/" : ".";
  if (hasRoot && end === 1) return "//";
  return text.slice(0, end);
}
export const basename: typeof Path.basename = (text, suffix) => load().basename(text, suffix);
