/**
 * Shared reading for the request/process pairs of provider endpoints that are not OAuth
 * (OpenRouter's key exchange, Anthropic's create_api_key, OpenAI's and MiniMax's device starts,
 * Code Assist, the Copilot token): loaded only with them, never on the hot path.
 */
import { NetworkError } from "../errors.ts";
import { type JsonObject, oneLine } from "../oauth/index.ts";

/**
 * The body as a JSON object, or `{}` when it is not one (an HTML error page, an empty body): the
 * caller judges the status first and names it in its own message. A body cut off while it was
 * read is a NETWORK error, as in oauth/_response.ts.
 */
export async function readJsonLenient(response: Response): Promise<JsonObject> {
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new NetworkError("the answer could not be read", {}, { cause: error });
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as JsonObject)
      : {};
  } catch {
    return {};
  }
}

/** The server's own reason in a JSON error body: `error` (a string), `error.message` or `message`. */
export function serverMessage(json: JsonObject): string | undefined {
  const error = json.error;
  if (typeof error === "string" && error !== "") return oneLine(error);
  if (typeof error === "object" && error !== null) {
    const message = (error as JsonObject).message;
    if (typeof message === "string" && message !== "") return oneLine(message);
  }
  return typeof json.message === "string" && json.message !== "" ? oneLine(json.message) : undefined;
}
