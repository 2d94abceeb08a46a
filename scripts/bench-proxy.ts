#!/usr/bin/env bun
/**
 * What `authctl exec --proxy` costs: three processes — the fake provider API (this script,
 * test/fakes/upstream.ts), the proxy (the compiled authctl) and a client (authctl's child) that
 * alternates direct and proxied requests so both see the same machine load.
 *   - added latency per small request: median proxied − median direct (target ≤ 1 ms), and the ratio
 *   - streaming throughput of a 50 MB body, proxied as a share of direct (target ≥ 80%)
 *   bun scripts/bench-proxy.ts [--runs=N] [--streams=N] [--binary=PATH]   (default: builds /tmp/dist-proxy/authctl)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startUpstream } from "../test/fakes/upstream.ts";

const root = join(import.meta.dir, "..");
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const runs = Number(arg("runs") ?? 2000);
const streams = Number(arg("streams") ?? 15);
let binary = arg("binary");
if (!binary) {
  binary = "/tmp/dist-proxy/authctl";
  const build = Bun.spawnSync([process.execPath, join(root, "scripts/build.ts"), `--outfile=${binary}`], { stdio: ["ignore", "ignore", "inherit"] });
  if (build.exitCode !== 0) process.exit(1);
}

const CLIENT = `
const direct = process.env.DIRECT_URL, proxied = process.env.OPENROUTER_BASE_URL;
const key = process.env.OPENROUTER_API_KEY;
const runs = Number(process.env.RUNS), STREAMS = Number(process.env.STREAMS);
const headers = { authorization: "Bearer " + key };
async function once(base) {
  const start = performance.now();
  const res = await fetch(base + "/echo", { headers });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error("status " + res.status);
  return performance.now() - start;
}
async function stream(base, size) {
  const start = performance.now();
  const res = await fetch(base + "/bytes?size=" + size, { headers });
  let n = 0;
  for await (const chunk of res.body) n += chunk.length;
  if (n !== size) throw new Error("short body: " + n);
  return size / 1e6 / ((performance.now() - start) / 1000);
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const d = [], p = [];
for (let i = 0; i < 200; i++) { await once(direct); await once(proxied); }
for (let i = 0; i < runs; i++) {
  if (i % 2) { d.push(await once(direct)); p.push(await once(proxied)); }
  else { p.push(await once(proxied)); d.push(await once(direct)); }
}
// Same alternation as above: which of the pair goes first swaps every round, so neither side
// always runs on a machine the other has just warmed (or loaded). The pairwise ratios are reported
// too: on a busy 2-core machine direct throughput alone swings by ±30% from run to run.
const size = 50 * 1024 * 1024, td = [], tp = [], share = [];
for (let i = 0; i < 2; i++) { await stream(direct, size); await stream(proxied, size); }
for (let i = 0; i < STREAMS; i++) {
  let a, b;
  if (i % 2) { a = await stream(direct, size); b = await stream(proxied, size); }
  else { b = await stream(proxied, size); a = await stream(direct, size); }
  td.push(a); tp.push(b); share.push(b / a);
}
console.log(JSON.stringify({ direct: median(d), proxied: median(p), directMBs: median(td), proxiedMBs: median(tp), pairShare: median(share) }));
`;

const work = mkdtempSync(join(tmpdir(), "authctl-bench-proxy-"));
const up = startUpstream({ quiet: true });
try {
  const env = { PATH: process.env.PATH ?? "", HOME: work, AUTHCTL_HOME: join(work, "home") };
  Bun.spawnSync(["mkdir", "-p", env.AUTHCTL_HOME]);
  writeFileSync(join(env.AUTHCTL_HOME, "config.toml"), `[providers.openrouter]\napi_url = "${up.url}/api/v1"\n`);
  const login = Bun.spawnSync([binary, "login", "openrouter", "--with-key", "--no-verify"], {
    env, stdin: new Blob(["sk-or-v1-bench0123456789abcdef0123456789abcdef0123456789abcdef01234567"]),
  });
  if (login.exitCode !== 0) throw new Error(login.stderr.toString());
  const client = join(work, "client.mjs");
  writeFileSync(client, CLIENT);
  // Async spawn: the upstream lives in this process's event loop and must keep answering.
  const proc = Bun.spawn([binary, "exec", "--proxy", "-p", "openrouter", "--", process.execPath, client], {
    env: { ...env, DIRECT_URL: `${up.url}/api/v1`, RUNS: String(runs), STREAMS: String(streams) },
    stdout: "pipe",
    stderr: "inherit",
  });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error("the client failed");
  const r = JSON.parse(out) as { direct: number; proxied: number; directMBs: number; proxiedMBs: number; pairShare: number };
  const added = r.proxied - r.direct;
  const share = r.proxiedMBs / r.directMBs;
  console.log(`small request, median over ${runs}: direct ${r.direct.toFixed(3)} ms, proxied ${r.proxied.toFixed(3)} ms, added ${added.toFixed(3)} ms (ratio ${(r.proxied / r.direct).toFixed(2)}) — target ≤ 1 ms added: ${added <= 1 ? "ok" : "MISSED"}`);
  console.log(
    `50 MB stream, median of ${streams}: direct ${r.directMBs.toFixed(0)} MB/s, proxied ${r.proxiedMBs.toFixed(0)} MB/s (${(share * 100).toFixed(0)}% of direct; median of pairwise ratios ${(r.pairShare * 100).toFixed(0)}%) — target ≥ 80%: ${share >= 0.8 ? "ok" : "MISSED"}`,
  );
} finally {
  up.stop();
  rmSync(work, { recursive: true, force: true });
}
