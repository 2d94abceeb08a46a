/**
 * The side effects of the store's cross-process lock, injected: the clock, this process's pid and
 * host, whether another process is alive, and a hook run when this process exits. The composition
 * root builds them from Deps (the clock and host) and the process adapter (io/process-probe.ts);
 * tests hand in their own (a fake clock, a pid that is or is not alive).
 */
export interface StoreEffects {
  /** Epoch ms. */
  now(): number;
  hostname(): string;
  /** This process's id, written into the locks it takes. */
  readonly pid: number;
  /** True unless `pid` provably does not exist on this host (or is a zombie). */
  isProcessAlive(pid: number): boolean;
  /** Runs `fn` when this process exits (process.exit included; SIGKILL cannot be covered). */
  onExit(fn: () => void): void;
}
