#!/usr/bin/env bun
/**
 * A tiny scripted "user agent" for OAuth browser flows in tests.
 *
 * As a script it is meant to be used as `BROWSER` (run as `BROWSER <url>`):
 *
 *   #!/bin/sh
 *   exec /abs/path/bun /abs/path/test/fakes/browser-follow.ts "$1"
 *
 * It GETs the URL with a cookie jar, follows redirects by hand (301/302/303 → GET,
 * 307/308 keep method and body), sends cookies back, and as soon as the next URL
 * is the loopback callback (a 127.0.0.1 / localhost / [::1] URL carrying `code` or
 * `error` in its query) it requests that once and exits 0. It exits 1 when it
 * ends anywhere else (e.g. on an HTML page it was not told to submit), 2 on a
 * network error or timeout.
 *
 * Environment:
 *   BROWSER_LOG=<file>            append what it did to this file
 *   BROWSER_SUBMIT_FORMS=1        submit HTML forms on the way (login form with a
 *                                 username field, consent "Allow", device confirm,
 *                                 auto-posting form_post pages). Off by default: in
 *                                 the fake server's autoApprove mode no forms occur.
 *   BROWSER_USERNAME=<name>       username typed into login forms (default test-user)
 *   BROWSER_DECISION=deny         click Deny/Abort instead of Allow/Continue
 *   BROWSER_TIMEOUT_MS=<ms>       overall deadline (default 15000)
 *   BROWSER_FOLLOW_BACKGROUND=1   fork into the background and exit 0 at once, like
 *                                 xdg-open (only the log tells what happened then)
 *
 * As a module it exports the same machinery (`UserAgent`, `CookieJar`,
 * `parseForms`, `isCallbackUrl`), which the fake OIDC server uses for
 * `approveDevice`. Keep this file free of heavy imports: it runs as a fresh
 * process per authorization.
 */
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";

export type Decision = "allow" | "deny";

export interface FollowOptions {
  /** Submit HTML forms met on the way (default false). */
  submitForms?: boolean;
  /** Typed into username/login/email text fields (default "test-user"). */
  username?: string;
  /** Which button to press on consent/confirm pages (default "allow"). */
  decision?: Decision;
  /** Stop at this URL predicate instead of the default `isCallbackUrl`. */
  isCallback?: (url: URL) => boolean;
  /** Maximum number of HTTP requests (default 40). */
  maxSteps?: number;
  /** Overall deadline in ms (default 15000). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface FollowStep {
  method: string;
  url: string;
  status: number;
  location?: string;
}

export interface FollowResult {
  /** True when the callback URL was reached (whatever it answered). */
  reachedCallback: boolean;
  callback?: { url: string; status: number; body: string };
  finalUrl: string;
  finalStatus: number;
  finalBody: string;
  steps: FollowStep[];
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

export function isLoopback(url: URL): boolean {
  return url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
}

/** The loopback redirect_uri an authorization server sends the user back to. */
export function isCallbackUrl(url: URL): boolean {
  return isLoopback(url) && (url.searchParams.has("code") || url.searchParams.has("error"));
}

// ---------------------------------------------------------------------------
// Cookies (RFC 6265, simplified: host-only, no Domain, ports ignored like browsers)

interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
  expiresAt: number; // ms epoch, Infinity for session cookies
}

function defaultCookiePath(url: URL): string {
  const p = url.pathname;
  if (!p.startsWith("/") || p.lastIndexOf("/") === 0) return "/";
  return p.slice(0, p.lastIndexOf("/"));
}

function pathMatches(cookiePath: string, requestPath: string): boolean {
  if (cookiePath === requestPath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}

export class CookieJar {
  readonly cookies: StoredCookie[] = [];

  store(url: URL, setCookieHeaders: string[]): void {
    for (const header of setCookieHeaders) {
      const [pair = "", ...attrs] = header.split(";");
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = defaultCookiePath(url);
      let expiresAt = Infinity;
      for (const attr of attrs) {
        const i = attr.indexOf("=");
        const key = (i === -1 ? attr : attr.slice(0, i)).trim().toLowerCase();
        const val = i === -1 ? "" : attr.slice(i + 1).trim();
        if (key === "path" && val.startsWith("/")) path = val;
        else if (key === "max-age" && /^-?\d+$/.test(val)) expiresAt = Date.now() + Number(val) * 1000;
        else if (key === "expires" && expiresAt === Infinity) {
          const t = Date.parse(val);
          if (!Number.isNaN(t)) expiresAt = t;
        }
      }
      const host = url.hostname;
      const idx = this.cookies.findIndex((c) => c.name === name && c.host === host && c.path === path);
      if (idx !== -1) this.cookies.splice(idx, 1);
      if (expiresAt > Date.now()) this.cookies.push({ name, value, host, path, expiresAt });
    }
  }

  header(url: URL): string | undefined {
    const now = Date.now();
    const matching = this.cookies
      .filter((c) => c.expiresAt > now && c.host === url.hostname && pathMatches(c.path, url.pathname))
      .sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join("; ") : undefined;
  }
}

// ---------------------------------------------------------------------------
// Minimal HTML form parsing (good enough for oidc-provider's and the fake's pages)

export interface FormSubmitter {
  name?: string;
  value?: string;
  label: string;
}

export interface ParsedForm {
  id?: string;
  action?: string;
  method: "GET" | "POST";
  /** hidden inputs and pre-filled fields, in document order */
  fields: Array<[string, string]>;
  /** names of text-like inputs (text, email, password, untyped) */
  textInputs: string[];
  submitters: FormSubmitter[];
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (m, e: string) => {
    const k = e.toLowerCase();
    if (k === "amp") return "&";
    if (k === "lt") return "<";
    if (k === "gt") return ">";
    if (k === "quot") return '"';
    if (k === "apos" || k === "#39") return "'";
    if (k.startsWith("#x")) return String.fromCodePoint(parseInt(k.slice(2), 16));
    if (k.startsWith("#")) return String.fromCodePoint(parseInt(k.slice(1), 10));
    return m;
  });
}

function parseAttrs(src: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const m of src.matchAll(re)) {
    const key = m[1]!.toLowerCase();
    if (key in out) continue;
    out[key] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? "");
  }
  return out;
}

function stripTags(s: string): string {
  return decodeEntities(s.replace(/<[^>]*>/g, " "))
    .replace(/\s+/g, " ")
    .trim();
}

function submitterFrom(attrs: Record<string, string>, inner: string): FormSubmitter {
  return { name: attrs.name || undefined, value: attrs.value, label: stripTags(inner) || attrs.value || "" };
}

export function parseForms(html: string): ParsedForm[] {
  const forms: ParsedForm[] = [];
  for (const fm of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)) {
    const attrs = parseAttrs(fm[1]!);
    const inner = fm[2]!;
    const form: ParsedForm = {
      id: attrs.id,
      action: attrs.action,
      method: (attrs.method ?? "get").toUpperCase() === "POST" ? "POST" : "GET",
      fields: [],
      textInputs: [],
      submitters: [],
    };
    for (const im of inner.matchAll(/<input\b([^>]*)>/gi)) {
      const a = parseAttrs(im[1]!);
      const type = (a.type ?? "text").toLowerCase();
      if (type === "submit" || type === "image") {
        form.submitters.push(submitterFrom(a, ""));
      } else if (
        a.name &&
        (type === "hidden" || ((type === "checkbox" || type === "radio") && "checked" in a))
      ) {
        form.fields.push([a.name, a.value ?? (type === "hidden" ? "" : "on")]);
      } else if (a.name && ["text", "email", "password", "search", "tel"].includes(type)) {
        form.textInputs.push(a.name);
        if (a.value) form.fields.push([a.name, a.value]);
      }
    }
    for (const bm of inner.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button\s*>/gi)) {
      const a = parseAttrs(bm[1]!);
      if (a.form || (a.type ?? "submit").toLowerCase() !== "submit") continue;
      form.submitters.push(submitterFrom(a, bm[2]!));
    }
    forms.push(form);
  }
  // <button form="id"> outside of the form element (oidc-provider's device pages do this)
  for (const bm of html.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button\s*>/gi)) {
    const a = parseAttrs(bm[1]!);
    if (!a.form || (a.type ?? "submit").toLowerCase() !== "submit") continue;
    forms.find((f) => f.id === a.form)?.submitters.push(submitterFrom(a, bm[2]!));
  }
  return forms;
}

const DENY_RE = /\b(deny|abort|cancel|reject|decline|no)\b/i;

function isDenySubmitter(s: FormSubmitter): boolean {
  return DENY_RE.test(`${s.name ?? ""} ${s.value ?? ""} ${s.label}`);
}

export interface FormSubmission {
  method: "GET" | "POST";
  url: URL;
  body?: URLSearchParams;
  description: string;
  /** identifies "the same form and button again" regardless of hidden values (xsrf tokens change) */
  key: string;
  /** the submission presses a Deny/Abort/Cancel button */
  denies: boolean;
}

/** Pick the form (and button) a test user would use on this page, or undefined. */
export function chooseSubmission(
  html: string,
  pageUrl: URL,
  opts: { username?: string; decision?: Decision } = {},
): FormSubmission | undefined {
  const decision = opts.decision ?? "allow";
  const username = opts.username ?? "test-user";
  const forms = parseForms(html);
  let chosen: { form: ParsedForm; submitter?: FormSubmitter } | undefined;
  for (const form of forms) {
    const deny = form.submitters.find(isDenySubmitter);
    const allow = form.submitters.find((s) => !isDenySubmitter(s));
    if (decision === "deny" && deny) {
      chosen = { form, submitter: deny };
      break;
    }
    if (decision === "allow" && (allow || form.submitters.length === 0)) {
      chosen = { form, submitter: allow };
      break;
    }
  }
  // deny on a page without a deny button (login page, auto-posting page): go on
  if (!chosen && decision === "deny") {
    const form = forms.find(
      (f) => f.submitters.some((s) => !isDenySubmitter(s)) || f.submitters.length === 0,
    );
    if (form) chosen = { form, submitter: form.submitters.find((s) => !isDenySubmitter(s)) };
  }
  if (!chosen) return undefined;
  const { form, submitter } = chosen;
  const params = new URLSearchParams();
  const filled = new Set<string>();
  for (const name of form.textInputs) {
    if (/^(user|username|login|email|name|identifier)$/i.test(name)) {
      params.append(name, username);
      filled.add(name);
    }
  }
  for (const [k, v] of form.fields) if (!filled.has(k)) params.append(k, v);
  if (submitter?.name) params.append(submitter.name, submitter.value ?? "");
  const url = new URL(form.action || pageUrl.href, pageUrl);
  const description = `form ${form.id ?? form.action ?? "(anonymous)"} via ${
    submitter ? `"${submitter.label || submitter.name}"` : "auto-submit"
  }`;
  const key = [form.method, url.origin + url.pathname, form.id ?? "", submitter?.label ?? "", ...filled].join(
    " ",
  );
  const denies = submitter ? isDenySubmitter(submitter) : false;
  if (form.method === "GET") {
    url.search = params.toString();
    return { method: "GET", url, description, key, denies };
  }
  return { method: "POST", url, body: params, description, key, denies };
}

// ---------------------------------------------------------------------------

export class UserAgent {
  readonly jar = new CookieJar();
  userAgent = "authctl-test-browser-follow/1.0";

  async request(method: string, url: URL, body?: URLSearchParams, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {
      "user-agent": this.userAgent,
      accept: "text/html,application/xhtml+xml,*/*;q=0.8",
    };
    const cookie = this.jar.header(url);
    if (cookie) headers.cookie = cookie;
    if (body) headers["content-type"] = "application/x-www-form-urlencoded";
    const res = await fetch(url, { method, headers, body: body?.toString(), redirect: "manual", signal });
    this.jar.store(url, res.headers.getSetCookie());
    return res;
  }

  async follow(startUrl: string | URL, opts: FollowOptions = {}): Promise<FollowResult> {
    const log = opts.log ?? (() => {});
    const isCallback = opts.isCallback ?? isCallbackUrl;
    const maxSteps = opts.maxSteps ?? 40;
    const signal = AbortSignal.timeout(opts.timeoutMs ?? 15_000);
    const steps: FollowStep[] = [];
    const submitted = new Set<string>();
    let denied = false;
    let method = "GET";
    let url = new URL(startUrl);
    let body: URLSearchParams | undefined;

    for (let i = 0; i < maxSteps; i++) {
      const callback = i > 0 && isCallback(url);
      const res = await this.request(method, url, body, signal);
      const location = res.headers.get("location") ?? undefined;
      steps.push({ method, url: url.href, status: res.status, location });
      log(`${method} ${url.href} -> ${res.status}${location ? ` Location: ${location}` : ""}`);

      if (callback) {
        const text = await res.text();
        log(`callback reached: ${url.href} (${res.status})`);
        return {
          reachedCallback: true,
          callback: { url: url.href, status: res.status, body: text },
          finalUrl: url.href,
          finalStatus: res.status,
          finalBody: text,
          steps,
        };
      }

      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        const next = new URL(location, url);
        if (res.status !== 307 && res.status !== 308) {
          method = "GET";
          body = undefined;
        }
        url = next;
        continue;
      }

      const text = await res.text();
      const html = (res.headers.get("content-type") ?? "").includes("html");
      if (opts.submitForms && html && res.status < 500) {
        const sub = chooseSubmission(text, url, opts);
        if (sub && submitted.has(sub.key)) {
          log(`not submitting ${sub.description} again (the page came back: rejected?)`);
        } else if (sub && denied) {
          log(`not submitting ${sub.description}: already denied`);
        } else if (sub) {
          submitted.add(sub.key);
          denied ||= sub.denies;
          log(
            `submitting ${sub.description}: ${sub.method} ${sub.url.href}${sub.body ? ` ${sub.body}` : ""}`,
          );
          method = sub.method;
          url = sub.url;
          body = sub.body;
          continue;
        }
      }
      log(`stopped at ${url.href} (${res.status}) without reaching the callback`);
      return { reachedCallback: false, finalUrl: url.href, finalStatus: res.status, finalBody: text, steps };
    }
    throw new Error(`browser-follow: gave up after ${maxSteps} requests (last: ${method} ${url.href})`);
  }
}

// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const target = process.argv[2];
  const logFile = process.env.BROWSER_LOG;
  const log = (line: string) => {
    if (logFile) appendFileSync(logFile, `${new Date().toISOString()} [${process.pid}] ${line}\n`);
  };
  if (!target) {
    log("usage: browser-follow.ts <url>");
    console.error("usage: browser-follow.ts <url>");
    return 2;
  }

  if (process.env.BROWSER_FOLLOW_BACKGROUND === "1") {
    const child = spawn(process.execPath, [import.meta.path, target], {
      detached: true,
      stdio: "ignore",
      env: { ...process.env, BROWSER_FOLLOW_BACKGROUND: "0" },
    });
    child.unref();
    log(`forked into background as pid ${child.pid} for ${target}`);
    return 0;
  }

  log(`open ${target}`);
  try {
    const result = await new UserAgent().follow(target, {
      submitForms: process.env.BROWSER_SUBMIT_FORMS === "1",
      username: process.env.BROWSER_USERNAME || undefined,
      decision: process.env.BROWSER_DECISION === "deny" ? "deny" : "allow",
      timeoutMs: Number(process.env.BROWSER_TIMEOUT_MS) || undefined,
      log,
    });
    if (!result.reachedCallback) {
      if (!logFile) console.error(`browser-follow: stopped at ${result.finalUrl} (${result.finalStatus})`);
      return 1;
    }
    return 0;
  } catch (err) {
    log(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (!logFile) console.error("browser-follow:", err);
    return 2;
  }
}

if (import.meta.main) {
  process.exit(await main());
}
