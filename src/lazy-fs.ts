/**
 * node:fs, loaded on the first call of one of these functions instead of when a module that
 * imports them loads. In a compiled binary node:fs costs about 5 MiB of memory (scripts/bench.ts:
 * a hello-world that loads it peaks at 29.5 MiB instead of 24.7), and `env`, `token` and `exec`
 * load the store and config modules, which write with node:fs, but on their usual path only read,
 * which they do with Bun's own file API (store/hot-read.ts). Modules those commands load import
 * from here, so node:fs is paid for only by a command that writes, locks, or reports an error.
 * Same names and types as node:fs.
 */
import type * as Fs from "node:fs";

let fs: typeof Fs | undefined;
const load = (): typeof Fs => (fs ??= require("node:fs") as typeof Fs);

type Fn = (...args: unknown[]) => unknown;
function lazy<K extends keyof typeof Fs>(name: K): (typeof Fs)[K] {
  return ((...args: unknown[]) => (load()[name] as unknown as Fn)(...args)) as unknown as (typeof Fs)[K];
}

export const accessSync = lazy("accessSync");
export const appendFileSync = lazy("appendFileSync");
export const chmodSync = lazy("chmodSync");
export const closeSync = lazy("closeSync");
export const existsSync = lazy("existsSync");
export const fchmodSync = lazy("fchmodSync");
export const fstatSync = lazy("fstatSync");
export const fsyncSync = lazy("fsyncSync");
export const linkSync = lazy("linkSync");
export const lstatSync = lazy("lstatSync");
export const mkdirSync = lazy("mkdirSync");
export const openSync = lazy("openSync");
export const readdirSync = lazy("readdirSync");
export const readFileSync = lazy("readFileSync");
export const readSync = lazy("readSync");
export const realpathSync = lazy("realpathSync");
export const renameSync = lazy("renameSync");
export const rmSync = lazy("rmSync");
export const statSync = lazy("statSync");
export const unlinkSync = lazy("unlinkSync");
export const utimesSync = lazy("utimesSync");
export const writeFileSync = lazy("writeFileSync");
export const writeSync = lazy("writeSync");

/** node:fs's `constants`, read on first property access. */
export const constants: typeof Fs.constants = new Proxy({} as typeof Fs.constants, {
  get: (_, key) => load().constants[key as keyof typeof Fs.constants],
});
