import { describe, expect, test } from "bun:test";
import { installHint, isOlderVersion, packageManagerOf, safeHop } from "../../src/actions/upgrade.ts";

/**
 * The rules of `authctl upgrade` that the binary tests cannot reach on this machine: a Nix store
 * path (there is no /nix here to put a binary in) and URL shapes that no server of ours answers.
 */
describe("packageManagerOf", () => {
  test.each([
    ["/nix/store/abc123-authctl-0.1.0/bin/authctl", "Nix"],
    ["/opt/homebrew/bin/authctl", "Homebrew"],
    ["/usr/local/Cellar/authctl/0.1.0/bin/authctl", "Homebrew"],
    ["/usr/bin/authctl", "the system package manager"],
    ["/bin/authctl", "the system package manager"],
    ["/snap/authctl/12/bin/authctl", "snap"],
    ["/home/u/project/node_modules/authctl/bin/authctl", "npm (a node_modules directory)"],
  ])("%s belongs to %s", (path, name) => {
    expect(packageManagerOf(path)?.name).toBe(name);
  });

  test.each([["/usr/local/bin/authctl"], ["/home/u/.local/bin/authctl"], ["/opt/authctl/authctl"]])(
    "%s is authctl's own to replace",
    (path) => {
      expect(packageManagerOf(path)).toBeUndefined();
    },
  );
});

describe("safeHop (every download URL and redirect hop)", () => {
  test.each([
    ["https://github.com/authctl/authctl/releases", true],
    ["https://user:pw@example.com/x", true],
    ["http://127.0.0.1:8080/x", true],
    ["http://localhost/x", true],
    ["http://[::1]:9/x", true],
    ["http://127.0.0.1:x@127.0.0.2/x", false],
    ["http://127.0.0.1@evil.example/x", false],
    ["http://localhost.evil.example/x", false],
    ["http://127.0.0.2/x", false],
    ["http://example.com/x", false],
    ["ftp://127.0.0.1/x", false],
    ["file:///etc/passwd", false],
    ["not a url", false],
  ])("%s → %p", (url, safe) => {
    expect(safeHop(url)).toBe(safe);
  });
});

describe("installHint", () => {
  test("names GitHub by default, and the mirror when AUTHCTL_DOWNLOAD_URL is set (quoted for the shell)", () => {
    expect(installHint({})).toBe(
      "curl -fsSL https://github.com/authctl/authctl/releases/latest/download/install.sh | sh",
    );
    expect(installHint({ AUTHCTL_DOWNLOAD_URL: "https://mirror.example/authctl/" })).toBe(
      "curl -fsSL https://mirror.example/authctl/install.sh | AUTHCTL_DOWNLOAD_URL=https://mirror.example/authctl sh",
    );
    expect(installHint({ AUTHCTL_DOWNLOAD_URL: "https://m.example/a b's" })).toBe(
      "curl -fsSL 'https://m.example/a b'\\''s/install.sh' | AUTHCTL_DOWNLOAD_URL='https://m.example/a b'\\''s' sh",
    );
  });
});

describe("isOlderVersion (an unpinned upgrade never goes back)", () => {
  test.each([
    ["0.0.5", "0.1.0", true],
    ["0.1.0", "0.1.0", false],
    ["0.2.0", "0.1.0", false],
    ["0.9.0", "0.10.0", true],
    ["1.0.0-rc.1", "1.0.0", true],
    ["1.0.0", "1.0.0-rc.1", false],
    ["1.0.0-rc.2", "1.0.0-rc.10", true],
    ["1.0.0-alpha", "1.0.0-alpha.1", true],
    ["1.0.0-beta", "1.0.0-alpha.9", false],
    ["v0.0.1", "0.1.0", true],
    ["not a version", "0.1.0", false],
  ])("%s older than %s → %p", (candidate, current, older) => {
    expect(isOlderVersion(candidate, current)).toBe(older);
  });
});
