/**
 * What a project file (`.authctl.toml`, config/project-file.ts) means for the commands: the
 * selection `env` and `exec` use when no provider is named, what `status` shows, and `allow` /
 * `deny`. An explicit provider wins and never looks for the file.
 */
import { dirname } from "../lazy-path.ts";
import {
  findNoProjectFileQuickly,
  findProjectFile,
  type ForeignProjectFile,
  PROJECT_FILE_NAME,
  projectKey,
  type ProjectFile,
  readProjectFile,
} from "../config/project-file.ts";
import { allowProject, denyProject, type ProjectTrust, projectTrust } from "../config/project-trust.ts";
import { AuthctlError, isAuthctlError } from "../errors.ts";
import { parseAccountRef } from "../store/accounts.ts";
import { userName } from "../store/trust.ts";
import type { Context } from "../context.ts";

/** Where the search starts; a deleted working directory has no project file above it. */
function workingDirectory(ctx: Context): string | undefined {
  try {
    return ctx.deps.cwd();
  } catch {
    return undefined;
  }
}

function locate(ctx: Context): string | undefined {
  const cwd = workingDirectory(ctx);
  return cwd === undefined ? undefined : findProjectFile(cwd, ctx.deps.env.HOME);
}

/**
 * The providers the project file selects, for `env` and `exec` without providers; undefined when
 * there is no project file. A file that was never allowed, or changed since, is an error naming it
 * and `authctl allow` (exit 1): falling back to every credential would hand out what the project
 * may have meant to keep out.
 */
export function projectSelection(ctx: Context): string[] | undefined {
  const path = locate(ctx);
  if (!path) return undefined;
  const project = readProjectFile(path);
  const trust = projectTrust(ctx.deps.home, project);
  if (trust === "allowed") return project.providers;
  const where = dirname(path);
  throw new AuthctlError(
    "CONFIG_INVALID",
    trust === "unknown"
      ? `the project file ${path} is not allowed yet: read it, then run 'authctl allow' in ${where} (or name the providers)`
      : `the project file ${path} changed since it was allowed: read it, then run 'authctl allow' in ${where} (or name the providers)`,
    { detail: { projectFile: path, trust } },
  );
}

/**
 * projectSelection for `env` and `exec`: the usual "no project file here" is found without node:fs
 * (config/project-file.ts findNoProjectFileQuickly); everything else is projectSelection's.
 */
export async function projectSelectionQuickly(ctx: Context): Promise<string[] | undefined> {
  const cwd = workingDirectory(ctx);
  if (cwd === undefined) return undefined;
  if ((await findNoProjectFileQuickly(cwd, ctx.deps.env.HOME)) === undefined) return undefined;
  return projectSelection(ctx);
}

export interface ProjectStatus {
  path: string;
  state: ProjectTrust | "invalid";
  allowed: boolean;
  /** What it selects (empty when it cannot be read). */
  providers: string[];
  error?: string;
}

/** The project file for `status`: never throws for the file's own problems. */
export function projectStatus(ctx: Context): ProjectStatus | undefined {
  const path = locate(ctx);
  if (!path) return undefined;
  let project: ProjectFile;
  try {
    project = readProjectFile(path);
  } catch (error) {
    if (!isAuthctlError(error)) throw error;
    return { path, state: "invalid", allowed: false, providers: [], error: error.message };
  }
  const state = projectTrust(ctx.deps.home, project);
  return { path, state, allowed: state === "allowed", providers: project.providers };
}

function requireProjectFile(ctx: Context, command: string): string {
  const cwd = workingDirectory(ctx);
  const foreign: ForeignProjectFile[] = [];
  const path = cwd === undefined ? undefined : findProjectFile(cwd, ctx.deps.env.HOME, foreign);
  if (!path) {
    // Another user's file was passed over: say so, or "no .authctl.toml" contradicts what `ls` shows.
    const passed = foreign.map((file) => `${file.path} belongs to ${userName(file.owner)}`).join(", ");
    throw new AuthctlError(
      "CONFIG_INVALID",
      passed
        ? `no ${PROJECT_FILE_NAME} of yours in ${cwd ?? "the working directory"} or above it: nothing to ${command} (${passed}; authctl never uses another user's project file)`
        : `no ${PROJECT_FILE_NAME} in ${cwd ?? "the working directory"} or above it: nothing to ${command}`,
      {
        hint: !passed
          ? `create one with: providers = ["openrouter"]`
          : command === "allow"
            ? "copy it into a directory of your own, read it, and run 'authctl allow' there"
            : undefined,
      },
    );
  }
  return path;
}

/** `authctl allow`: trusts the project file found from here upward, as it is now. */
export function allow(ctx: Context): void {
  const { deps } = ctx;
  const project = readProjectFile(requireProjectFile(ctx, "allow"));
  for (const entry of project.providers) {
    const { provider } = parseAccountRef(entry);
    if (!ctx.registry.get(provider.toLowerCase()))
      deps.ui.warn(`${project.path} names '${provider}', which is not a provider this authctl knows`);
  }
  const before = projectTrust(deps.home, project);
  allowProject(deps.home, project, new Date(deps.now()));
  const what = project.providers.length ? project.providers.join(", ") : "no credentials";
  deps.ui.success(
    `${before === "changed" ? "allowed the changed" : "allowed"} ${project.path}: 'env' and 'exec' without providers hand out ${what} in ${dirname(project.path)} and below`,
  );
}

/** `authctl deny`: forgets the project file found from here upward (its content does not matter). */
export function deny(ctx: Context): void {
  const path = requireProjectFile(ctx, "deny");
  let realPath = path;
  try {
    realPath = projectKey(path);
  } catch {
    // Vanished since: forget it under the name it was found by.
  }
  if (denyProject(ctx.deps.home, realPath))
    ctx.deps.ui.success(`denied ${path}: 'env' and 'exec' refuse it until 'authctl allow'`);
  else ctx.deps.ui.info(`${path} was not allowed: nothing to forget`);
}
