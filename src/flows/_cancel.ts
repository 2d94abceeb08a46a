import type { Deps } from "../deps.ts";
import { AuthctlError } from "../errors.ts";

export const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60_000;

/**
 * The login's deadline (--timeout) passed. Said as the wait a person sees: the browser coming back,
 * or for a device login (`forDevice`), the code being approved.
 */
export class LoginTimeout extends AuthctlError {
  constructor(
    /** "5 minutes", "90 seconds" */
    readonly within: string,
    waitedFor = "no answer from the browser",
  ) {
    super("TIMEOUT", `${waitedFor} within ${within}`, {
      hint: "run the login again (--timeout gives more time)",
    });
  }

  forDevice(): LoginTimeout {
    return new LoginTimeout(this.within, "the code was not approved");
  }
}

/**
 * One signal for everything that ends a login early: Ctrl-C (or SIGTERM) and the deadline. Every
 * flow passes it down, so the loopback server, the paste prompt and the polling loop all stop.
 * The deadline is deps' `timeoutSignal`, like every other timeout, so a test's fake clock can pass
 * it (test/actions/oauth-clock.test.ts) instead of waiting five real minutes.
 */
export function createFlowSignal(
  deps: Deps,
  timeoutMs = DEFAULT_LOGIN_TIMEOUT_MS,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const unsubscribe = deps.onInterrupt(() =>
    controller.abort(new AuthctlError("CANCELLED", "login cancelled")),
  );
  // Minutes only when they are whole: a 90-second --timeout is not "2 minutes".
  const minutes =
    timeoutMs >= 60_000 && timeoutMs % 60_000 === 0
      ? `${timeoutMs / 60_000} minute${timeoutMs === 60_000 ? "" : "s"}`
      : `${Math.round(timeoutMs / 1000)} seconds`;
  const deadline = deps.timeoutSignal(timeoutMs);
  const expire = () => controller.abort(new LoginTimeout(minutes));
  deadline.addEventListener("abort", expire, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      deadline.removeEventListener("abort", expire);
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
