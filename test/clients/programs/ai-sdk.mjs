// The Vercel AI SDK with one provider package (argv[2]): generateText and streamText.
// @ai-sdk/openai and @ai-sdk/anthropic read their key and base URL from the environment;
// @ai-sdk/google and @openrouter/ai-sdk-provider read no base-URL variable, so the program passes
// the one authctl (or the user) provides, as any program using them with a gateway must.
import { generateText, streamText } from "ai";
const which = process.argv[2];
let model;
if (which === "openai") model = (await import("@ai-sdk/openai")).openai("gpt-fake");
if (which === "anthropic") model = (await import("@ai-sdk/anthropic")).anthropic("claude-fake");
if (which === "google") {
  const { createGoogleGenerativeAI } = await import("@ai-sdk/google");
  model = createGoogleGenerativeAI({ baseURL: `${process.env.GOOGLE_GEMINI_BASE_URL}/v1beta` })("gemini-fake");
}
if (which === "openrouter") {
  const { createOpenRouter } = await import("@openrouter/ai-sdk-provider");
  model = createOpenRouter({ baseURL: process.env.OPENROUTER_BASE_URL })("openai/gpt-fake");
}
const plain = (await generateText({ model, prompt: "ping", maxRetries: 0 })).text;
let streamed = "";
let failure;
const result = streamText({ model, prompt: "ping", maxRetries: 0, onError: ({ error }) => (failure = String(error?.message ?? error)) });
for await (const text of result.textStream) streamed += text;
if (failure) throw new Error(failure);
console.log(JSON.stringify({ plain, streamed }));
