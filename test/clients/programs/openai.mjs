// The official OpenAI SDK, configured only by OPENAI_API_KEY and OPENAI_BASE_URL.
import OpenAI from "openai";
const client = new OpenAI();
const model = "gpt-fake", messages = [{ role: "user", content: "ping" }];
const plain = await client.chat.completions.create({ model, messages });
let streamed = "";
for await (const chunk of await client.chat.completions.create({ model, messages, stream: true })) streamed += chunk.choices[0]?.delta?.content ?? "";
const responses = (await client.responses.create({ model, input: "ping" })).output_text;
let responsesStreamed = "";
for await (const event of await client.responses.create({ model, input: "ping", stream: true })) if (event.type === "response.output_text.delta") responsesStreamed += event.delta;
console.log(JSON.stringify({ plain: plain.choices[0].message.content, streamed, responses, responsesStreamed }));
