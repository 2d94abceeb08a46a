// The official Anthropic SDK, configured only by ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL.
import Anthropic from "@anthropic-ai/sdk";
const client = new Anthropic();
const params = { model: "claude-fake", max_tokens: 64, messages: [{ role: "user", content: "ping" }] };
const plain = (await client.messages.create(params)).content[0].text;
let streamed = "";
for await (const event of await client.messages.create({ ...params, stream: true })) if (event.type === "content_block_delta") streamed += event.delta.text;
const tokens = (await client.messages.countTokens({ model: params.model, messages: params.messages })).input_tokens;
console.log(JSON.stringify({ plain, streamed, tokens }));
