import { AuthctlError, isAuthctlError } from "../errors.ts";
import { usageLine } from "./help.ts";

/**
 * Every argument mistake is a usage error (exit 2) that shows the command's usage line: authctl's
 * own checks, and citty's (a missing positional, a bad enum), which are not AuthctlErrors.
 */
export function withUsage(error: unknown, command: string): unknown {
  const usage = usageLine(command);
  const hint = `run 'authctl ${command} --help'`;
  if (error instanceof Error && error.name === "CLIError") {
    return new AuthctlError(
      "USAGE",
      error.message.replace(
        /^Missing required positional argument: (\w+)$/,
        (_, arg: string) => `${command} needs a ${arg.toLowerCase()}`,
      ),
      { usage, hint },
    );
  }
  if (isAuthctlError(error) && error.code === "USAGE" && !error.usage) {
    return new AuthctlError("USAGE", error.message, {
      usage,
      hint: error.hint ?? hint,
      detail: error.detail,
      cause: error.cause,
    });
  }
  return error;
}
