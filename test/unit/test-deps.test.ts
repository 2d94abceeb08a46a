import { afterEach, describe, expect, test } from "bun:test";
import { CANCEL, createFakeClock, createTestDeps, type TestDeps } from "../helpers/deps.ts";

/** The seam action-level tests stand on (test/helpers/deps.ts) does what it promises. */
let t: TestDeps | undefined;
afterEach(() => t?.cleanup());

describe("the fake clock", () => {
  test("a timeout signal fires when the clock passes it, not before", async () => {
    const clock = createFakeClock(0);
    const signal = clock.timeoutSignal(30_000);
    await clock.advance(29_900);
    expect(signal.aborted).toBe(false);
    await clock.advance(100);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as DOMException).name).toBe("TimeoutError");
    expect(clock.now()).toBe(30_000);
  });

  test("sleep moves virtual time on at once and fires the timers it passes, in order", async () => {
    const clock = createFakeClock(1000);
    const fired: number[] = [];
    clock.at(2000, () => fired.push(clock.now()));
    clock.at(500, () => fired.push(clock.now()));
    const started = performance.now();
    await clock.sleep(60_000);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(fired).toEqual([1500, 3000]);
    expect(clock.now()).toBe(61_000);
  });

  test("an aborted sleep rejects with the signal's reason", async () => {
    const clock = createFakeClock();
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await expect(clock.sleep(10, controller.signal)).rejects.toThrow("stop");
  });
});

describe("the scripted prompter", () => {
  test("answers a select by its visible label and records the question", async () => {
    t = createTestDeps({ answers: [["Pick one", "Second"]] });
    const prompter = await t.deps.prompter();
    const picked = await prompter.select("Pick one", [
      { value: "a", label: "First" },
      { value: "b", label: "Second" },
    ]);
    expect(picked).toBe("b");
    expect(t.prompter.asked).toEqual(["Pick one"]);
  });

  test("an unscripted question fails with a plain Error naming it (not a cancel)", async () => {
    t = createTestDeps({ answers: [["Expected?", "yes"]] });
    const prompter = await t.deps.prompter();
    const error = await prompter.text("Something else?").catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBeUndefined();
    expect(error.message).toContain('unexpected text prompt "Something else?"');
  });

  test("CANCEL answers like Ctrl-C (a CANCELLED AuthctlError)", async () => {
    t = createTestDeps({ answers: [[/key/, CANCEL]] });
    const error = await (await t.deps.prompter()).password("OpenRouter API key").catch((e) => e);
    expect(error.code).toBe("CANCELLED");
  });
});

describe("the store, keyring and home", () => {
  test("seed and stored go through the real store in a temporary AUTHCTL_HOME, the keyring in memory", async () => {
    t = createTestDeps({ env: { AUTHCTL_STORE: "keyring" } });
    const now = t.clock.now();
    await t.seed({
      openrouter: { method: "key", type: "api_key", key: "sk-test", created_at: now, updated_at: now },
    });
    expect(t.keyring.items.has("openrouter")).toBe(true);
    expect((await t.stored()).openrouter?.key).toBe("sk-test");
    expect(t.context().store.path.startsWith(t.home)).toBe(true);
  });
});
