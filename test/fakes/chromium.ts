/**
 * Drive a real (Debian) Chromium through an authorization URL with playwright-core:
 * fill the fake OIDC server's login form, click "Allow" (or "Deny") on its consent page,
 * and wait until the browser lands on the loopback callback.
 *
 *   if (chromiumAvailable()) await openInChromium(authorizeUrl, { approve: true });
 *
 * Uses a fresh temporary profile per call (launchPersistentContext on a mkdtemp dir).
 * Path override: env CHROMIUM_PATH (default /usr/bin/chromium).
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium, type Page } from "playwright-core";

import { isCallbackUrl } from "./browser-follow.ts";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

let available: boolean | undefined;

/** True when the Chromium binary exists, is executable and answers `--version`. Cached. */
export function chromiumAvailable(): boolean {
  if (available !== undefined) return available;
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    const r = spawnSync(CHROMIUM_PATH, ["--version"], { timeout: 10_000, encoding: "utf8" });
    available = r.status === 0 && /chrom/i.test(r.stdout);
  } catch {
    available = false;
  }
  return available;
}

export interface OpenInChromiumOptions {
  /** true: sign in as `username` and click Allow; false: click Deny on the consent page */
  approve: boolean;
  /** typed into the login form (default "test-user") */
  username?: string;
  /** overall deadline in ms (default 15000) */
  timeoutMs?: number;
  /** where the flow ends (default: a loopback URL carrying `code` or `error`) */
  isCallback?: (url: URL) => boolean;
}

export interface OpenInChromiumResult {
  /** the callback URL the browser ended on */
  callbackUrl: string;
  /** URLs of the pages the browser showed, in order */
  visited: string[];
}

export async function openInChromium(
  url: string,
  options: OpenInChromiumOptions,
): Promise<OpenInChromiumResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  const username = options.username ?? "test-user";
  const isCallback = options.isCallback ?? isCallbackUrl;
  const profile = mkdtempSync(join(tmpdir(), "authctl-chromium-"));
  const visited: string[] = [];

  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: timeoutMs,
  });
  try {
    const page: Page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(Math.max(1_000, timeoutMs));
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) visited.push(frame.url());
    });

    const reachedCallback = page
      .waitForURL((u) => isCallback(u), { timeout: timeoutMs, waitUntil: "commit" })
      .then(() => true);
    reachedCallback.catch(() => {}); // observed below

    await page.goto(url, { waitUntil: "domcontentloaded" });

    const handled = new Set<string>();
    while (!isCallback(new URL(page.url()))) {
      if (Date.now() > deadline) throw new Error(`openInChromium: timed out at ${page.url()}`);
      const current = page.url();
      const step = await Promise.race([
        reachedCallback.then(() => "callback" as const),
        page
          .locator('input[name="username"], button:has-text("Allow"), button:has-text("Deny")')
          .first()
          .waitFor({ state: "visible", timeout: 1_000 })
          .then(
            () => "form" as const,
            () => "wait" as const,
          ),
      ]);
      if (step === "callback") break;
      if (step === "wait" || handled.has(current)) {
        await page.waitForTimeout(50);
        continue;
      }
      handled.add(current);
      const login = page.locator('input[name="username"]');
      if (await login.count()) {
        await login.fill(username);
        await Promise.all([
          page.waitForURL((u) => u.href !== current, { waitUntil: "commit" }),
          page.locator('form#login button[type="submit"]').click(),
        ]);
        continue;
      }
      const button = page.getByRole("button", { name: options.approve ? "Allow" : "Deny", exact: true });
      await Promise.all([
        page.waitForURL((u) => u.href !== current, { waitUntil: "commit" }),
        button.click(),
      ]);
    }
    await reachedCallback;
    return { callbackUrl: page.url(), visited };
  } finally {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}
