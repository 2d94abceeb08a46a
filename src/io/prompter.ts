import * as p from "@clack/prompts";
import type { Prompter, SelectOption, Spinner } from "../deps.ts";
import { AuthctlError } from "../errors.ts";

/**
 * @clack/prompts, pointed at stderr: stdout belongs to scripts (`eval "$(authctl env …)"` may
 * run the login wizard first, and nothing of the wizard may land in the eval).
 */
const output = process.stderr;

function unwrap<T>(value: T): Exclude<T, symbol> {
  if (p.isCancel(value)) throw new AuthctlError("CANCELLED", "cancelled");
  return value as Exclude<T, symbol>;
}

export function createClackPrompter(): Prompter {
  return {
    async password(message) {
      return unwrap(await p.password({ message, mask: "•", output }));
    },
    async text(message, options) {
      return unwrap(await p.text({ message, placeholder: options?.placeholder, output, signal: options?.signal }));
    },
    async confirm(message, initial = true) {
      return unwrap(await p.confirm({ message, initialValue: initial, output }));
    },
    async select<T extends string>(message: string, options: SelectOption<T>[]) {
      // clack's Option type is conditional on T; the shape we pass is the primitive-value one.
      const opts = options.map((o) => ({ value: o.value, label: o.label, hint: o.hint })) as never;
      return unwrap(await p.select<T>({ message, options: opts, output }));
    },
    async multiselect<T extends string>(message: string, options: SelectOption<T>[]) {
      const opts = options.map((o) => ({ value: o.value, label: o.label, hint: o.hint })) as never;
      return unwrap(await p.multiselect<T>({ message, options: opts, required: false, output }));
    },
  };
}

export function createClackSpinner(): Spinner {
  const s = p.spinner({ output });
  return { start: (m) => s.start(m), message: (m) => s.message(m), stop: (m) => s.stop(m) };
}
