/**
 * Whose files authctl uses. Like ssh's StrictModes and git's safe.directory, authctl refuses an
 * AUTHCTL_HOME, credentials.toml or config.toml that belongs to another user or that other users
 * can write: such a file can point a key at someone else's server, and a store written by root
 * in alice's home (HOME kept by sudo without -H, `su -m`, cron) would be taken from her (issue
 * 15.1). Files of root are accepted, as ssh accepts them: root can change anything anyway.
 */
import { readFileSync, statSync } from "../lazy-fs.ts";
import { dirname } from "../lazy-path.ts";
import { AuthctlError, errorCode } from "../errors.ts";

const IS_WINDOWS = process.platform === "win32";

/** This process's uid; undefined on Windows, where files have no such owner. */
export function myUid(): number | undefined {
  return IS_WINDOWS ? undefined : process.getuid?.();
}

/** The login name of `uid` from /etc/passwd, or `uid N` (no NSS lookup: a plain file read, only on an error path). */
export function userName(uid: number): string {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const [name, , id] = line.split(":");
      if (name && Number(id) === uid) return name;
    }
  } catch {
    // No passwd file: the number will do.
  }
  return `uid ${uid}`;
}

/** The home directory of `uid` in /etc/passwd (os.homedir() and os.userInfo() return $HOME itself under Bun). */
export function passwdHome(uid: number): string | undefined {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const fields = line.split(":");
      if (fields[0] && Number(fields[2]) === uid && fields[5]) return fields[5];
    }
  } catch {
    // No passwd file.
  }
  return undefined;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    // A missing file without an exception: the first one a compiled binary throws costs about
    // 0.7 MB of memory (measured), and `env` checks config.toml, which most people never create.
    return statSync(path, { throwIfNoEntry: false });
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR") return undefined;
    // EACCES: a service account pointed at another user's store (or a directory it cannot
    // search). Say who authctl runs as and what to change, not only the errno.
    const denied = errorCode(error) === "EACCES" && process.getuid !== undefined;
    throw new AuthctlError(
      "STORE_IO",
      `could not check ${path}: ${(error as Error).message.split(",", 1)[0]}`,
      {
        cause: error,
        hint: denied
          ? `authctl runs as uid ${process.getuid!()} here, which cannot reach ${dirname(path)}: run it as that directory's owner, or give this user its own AUTHCTL_HOME (and log in there)`
          : undefined,
      },
    );
  }
}

/** The owner of `path`, or of its nearest existing parent: who a store created there would be taken from. */
export function ownerOfNearest(path: string): { path: string; uid: number } | undefined {
  for (let current = path; ; current = dirname(current)) {
    const stat = statOrUndefined(current);
    if (stat) return { path: current, uid: Number(stat.uid) };
    if (dirname(current) === current) return undefined;
  }
}

/** `subject` reads before "belongs to alice": "credentials.toml /home/alice/.config/authctl/credentials.toml". */
function foreignOwner(subject: string, path: string, owner: number, me: number, home: string): AuthctlError {
  const sudo =
    me === 0
      ? " (HOME or AUTHCTL_HOME probably points at their home: sudo without -H, su -m, a cron job)"
      : "";
  return new AuthctlError(
    "STORE_IO",
    `${subject} belongs to ${userName(owner)}, not to you (${userName(me)})${sudo}; authctl will not use it`,
    {
      hint:
        me === 0
          ? `run authctl as ${userName(owner)} (${sudoAs(owner)} env AUTHCTL_HOME=${shellWord(home)} authctl …), or with 'sudo -H' / AUTHCTL_HOME set to a store of your own`
          : `set AUTHCTL_HOME to a directory of your own, or have ${userName(owner)} hand it over (chown)`,
      detail: { path, owner, foreign: true },
    },
  );
}

/**
 * A command that runs as `uid`. sudo resets the environment, so the hint names AUTHCTL_HOME: an
 * administrator setting up a service's store (`AUTHCTL_HOME=/var/lib/agent/authctl`) who ran
 * `sudo -u agent authctl login …` logged in to agent's own home instead, where the service never
 * looks. A uid with no name is `#uid` to sudo (`sudo -u uid 54321` is not a command).
 */
function sudoAs(uid: number): string {
  const name = userName(uid);
  return name === `uid ${uid}` ? `sudo -u '#${uid}'` : `sudo -u ${name}`;
}

/** `text` as one shell word: bare when it holds nothing a shell reads, else single-quoted. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * True when assertTrusted would accept a file with these stats: this user's or root's, and not
 * writable by group or others. store/quick-read.ts asks it; a false answer goes to assertTrusted.
 */
export function isTrustedStat(stat: { uid: number | bigint; mode: number | bigint }): boolean {
  const me = myUid();
  if (me === undefined) return true;
  const owner = Number(stat.uid);
  return (owner === me || owner === 0) && !(Number(stat.mode) & 0o022);
}

/**
 * Refuses `path` (when it exists) if it belongs to another user than this one or root, or if
 * group or others may write it. `what` names it in the message: "AUTHCTL_HOME", "credentials.toml".
 */
export function assertTrusted(path: string, what: string, kind?: "directory"): void {
  const me = myUid();
  if (me === undefined) return;
  const stat = statOrUndefined(path);
  if (!stat) return;
  // AUTHCTL_HOME set to the credentials file by mistake: said as such, not 'not logged in' (the
  // files "in" it do not exist) nor the runtime's ENOTDIR.
  if (kind === "directory" && !stat.isDirectory())
    throw new AuthctlError("STORE_IO", `${what} ${path} is a file, not a directory`, {
      hint: "AUTHCTL_HOME names the directory that holds credentials.toml and config.toml: point it at one",
    });
  if (isTrustedStat(stat)) return;
  const owner = Number(stat.uid);
  if (owner !== me && owner !== 0)
    throw foreignOwner(`${what} ${path}`, path, owner, me, kind === "directory" ? path : dirname(path));
  // Root's own store must not be a file of root's that others can write either; an owner of
  // root is accepted for other users only as ssh does, for files nobody else can write.
  if (Number(stat.mode) & 0o022) {
    const fix = stat.isDirectory() ? `chmod 700 ${path}` : `chmod go-w ${path}`;
    throw new AuthctlError(
      "STORE_IO",
      `${what} ${path} is writable by other users (mode ${octal(Number(stat.mode))}); authctl will not use it`,
      {
        hint: owner === me ? `run ${fix}, and check that nobody changed it` : `have root run ${fix}`,
        detail: { path, writableByOthers: true },
      },
    );
  }
}

/**
 * Before writing under `dir`: refuses when `dir` does not exist yet and its nearest existing parent
 * belongs to another user (a store created there would be root's file in alice's home).
 */
export function assertMayCreateIn(dir: string, what: string): void {
  const me = myUid();
  if (me === undefined) return;
  const nearest = ownerOfNearest(dir);
  if (!nearest || nearest.path === dir) return;
  if (nearest.uid !== me && nearest.uid !== 0)
    throw foreignOwner(
      `${what} ${dir} would be created in ${nearest.path}, which`,
      dir,
      nearest.uid,
      me,
      dir,
    );
}

/** Where authctl looked, for "not logged in" and "unknown provider": the path, and whose home it is in when not this user's. */
export function describeLocation(path: string): string {
  return `${path}${foreignNote(path)}`;
}

/** ", which belongs to alice" when `path` or its nearest existing parent is another user's, else "". */
export function foreignNote(path: string): string {
  const me = myUid();
  if (me === undefined) return "";
  try {
    const nearest = ownerOfNearest(path);
    return nearest && nearest.uid !== me && nearest.uid !== 0
      ? `, which belongs to ${userName(nearest.uid)}`
      : "";
  } catch {
    return "";
  }
}
