/**
 * The project files a person allowed: `allowed-projects.json` in AUTHCTL_HOME (0600, the directory
 * 0700), one entry per real path with the SHA-256 of the content that was allowed. Written
 * atomically like the store (a temporary file renamed over it), and refused, like the store, when
 * it belongs to someone else or others may write it: whoever can write it decides which
 * credentials a directory gets.
 */
import { readFileSync } from "../lazy-fs.ts";
import { join } from "../lazy-path.ts";
import { AuthctlError, errorCode } from "../errors.ts";
import { writeFileAtomic } from "../store/atomic-write.ts";
import { assertMayCreateIn, assertTrusted } from "../store/trust.ts";
import type { ProjectFile } from "./project-file.ts";

export const ALLOW_LIST_NAME = "allowed-projects.json";

interface AllowEntry {
  sha256: string;
  /** ISO time of the `allow`, for people reading the file. */
  allowed_at: string;
}

interface AllowList {
  version: 1;
  allowed: Record<string, AllowEntry>;
}

export type ProjectTrust = "allowed" | "unknown" | "changed";

export function allowListPath(home: string): string {
  return join(home, ALLOW_LIST_NAME);
}

function readAllowList(home: string): AllowList {
  const path = allowListPath(home);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR")
      return { version: 1, allowed: Object.create(null) };
    throw new AuthctlError(
      "STORE_IO",
      `could not read ${path}: ${(error as Error).message.split(",", 1)[0]}`,
    );
  }
  assertTrusted(path, ALLOW_LIST_NAME);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const allowed = (parsed as Partial<AllowList> | undefined)?.allowed;
  if (typeof allowed !== "object" || allowed === null || Array.isArray(allowed))
    throw new AuthctlError("STORE_CORRUPT", `${path} is not a list of allowed project files`, {
      hint: `move it aside and run 'authctl allow' again in each project`,
    });
  const out: Record<string, AllowEntry> = Object.create(null);
  for (const [file, entry] of Object.entries(allowed))
    if (typeof (entry as AllowEntry)?.sha256 === "string") out[file] = entry as AllowEntry;
  return { version: 1, allowed: out };
}

/** Whether this content of this file was allowed. */
export function projectTrust(home: string, project: ProjectFile): ProjectTrust {
  const entry = readAllowList(home).allowed[project.realPath];
  if (!entry) return "unknown";
  return entry.sha256 === project.sha256 ? "allowed" : "changed";
}

function writeAllowList(home: string, list: AllowList): void {
  assertTrusted(home, "AUTHCTL_HOME", "directory");
  assertMayCreateIn(home, "AUTHCTL_HOME");
  writeFileAtomic(allowListPath(home), `${JSON.stringify(list, null, 2)}\n`);
}

/** Records this content of the file as allowed (replacing what was allowed before at that path). */
export function allowProject(home: string, project: ProjectFile, now: Date): void {
  const list = readAllowList(home);
  list.allowed[project.realPath] = { sha256: project.sha256, allowed_at: now.toISOString() };
  writeAllowList(home, list);
}

/** Forgets the file; false when it was not allowed. */
export function denyProject(home: string, realPath: string): boolean {
  const list = readAllowList(home);
  if (!list.allowed[realPath]) return false;
  delete list.allowed[realPath];
  writeAllowList(home, list);
  return true;
}
