import { noFTL } from "bun:jsc";

/**
 * Keeps the proxy's per-request code out of JavaScriptCore's FTL tier: it still reaches the
 * baseline and DFG JITs, which compile in a few milliseconds, where FTL took 80–180 ms of a
 * background thread for each of the head parsers (and recompiled several functions after OSR
 * exits) all through the first ~15 000 requests of a session. An agent's session makes far fewer
 * requests than that, so FTL's compile time was never paid back, and on a 2-core machine its
 * thread competes with the proxy, the child and the provider for the CPU.
 *
 * Measured (issue 17) over requests 200–2 200 of fresh processes, 5 alternating runs each, load
 * 11: the JIT thread's CPU 35–41 -> 15–21 µs per request, the whole process 193 -> 163 µs
 * (medians); the main thread's unchanged (147 -> 143). Compile time for those requests: about
 * 1.1 s -> 0.18 s (BUN_JSC_reportCompileTimes). No FTL compile is left on the proxy's path.
 *
 * Takes functions, classes (their constructor and prototype methods) and objects of handler
 * functions. Only compilations after the call are affected: call it when the module loads.
 */
export function withoutFTL(...targets: unknown[]): void {
  for (const target of targets) {
    if (typeof target === "function") {
      noFTL(target as (...args: unknown[]) => unknown);
      const proto = (target as { prototype?: object }).prototype;
      if (proto) markAll(proto);
    } else if (target && typeof target === "object") markAll(target);
  }
}

function markAll(holder: object): void {
  for (const name of Object.getOwnPropertyNames(holder)) {
    const value = Object.getOwnPropertyDescriptor(holder, name)?.value;
    if (typeof value === "function" && name !== "constructor") noFTL(value);
  }
}
