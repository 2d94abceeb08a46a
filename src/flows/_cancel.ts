import type { Deps } from "../deps.ts";
import { AuthctlError } from "../errors.ts";

export const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60_000;

/**
 * One signal for everything that ends a login early: Ctrl-C (or SIGTERM) and the deadline. Every
 * flow passes it down, so the loopback server, the paste prompt and the polling loop all stop.
 */
export function createFlowSignal(
  deps: Deps,
  timeoutMs = DEFAULT_LOGIN_TIMEOUT_MS,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const unsubscribe = deps.onInterrupt(() =>
    controller.abort(new AuthctlError("CANCELLED", "login cancelled")),
  );
  const minutes =
    timeoutMs >= 60_000
      ? `${Math.round(timeoutMs / 60_000)} minutes`
      : `${Math.round(timeoutMs / 1000)} seconds`;
  const timer = setTimeout(
    () =>
      controller.abort(
        new AuthctlError("TIMEOUT", `no answer from the browser within ${minutes}`, {
          hint: "run the login again (--timeout gives more time)",
        }),
      ),
    timeoutMs,
  );
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      unsubscribe();
    },
  };
}

/** Rejects with the signal's reason once it aborts. */
export function whenAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}
