import { describe, expect, test } from "bun:test";
import { posix } from "node:path";
import { dirname, isAbsolute, join, resolve } from "../../src/lazy-path.ts";

// src/lazy-path.ts ports Node's posix algorithm so that `env` need not load node:path: it must give
// the same answer as node:path for every shape of path a user or a variable can hand it.
const PATHS = [
  "",
  ".",
  "..",
  "/",
  "//",
  "a",
  "a/",
  "/a",
  "/a/",
  "/a//b",
  "/a/./b",
  "/a/../b",
  "/a/b/..",
  "/a/b/../..",
  "/a/b/../../..",
  "a/../..",
  "../a",
  "./a/./",
  "/home/alice/.config",
  "/tmp/x y/ü",
  "a/.../b",
  "a/..b/c",
  "/..",
  "~/authctl",
];

describe("lazy-path against node:path.posix", () => {
  test.each(PATHS.flatMap((a) => PATHS.map((b) => [a, b])))("join(%p, %p)", (a, b) => {
    expect(join(a, b)).toBe(posix.join(a, b));
    expect(join(a, b, "authctl")).toBe(posix.join(a, b, "authctl"));
    expect(resolve(a, b)).toBe(posix.resolve(a, b));
  });
  test.each(PATHS)("join(%p), resolve(%p), isAbsolute(%p)", (a) => {
    expect(join(a)).toBe(posix.join(a));
    expect(join(a, ".config", "authctl")).toBe(posix.join(a, ".config", "authctl"));
    expect(resolve(a)).toBe(posix.resolve(a));
    expect(isAbsolute(a)).toBe(posix.isAbsolute(a));
    expect(dirname(a)).toBe(posix.dirname(a));
    expect(dirname(`${a}/x`)).toBe(posix.dirname(`${a}/x`));
  });
  test("no arguments", () => {
    expect(join()).toBe(posix.join());
    expect(resolve()).toBe(posix.resolve());
  });
});
