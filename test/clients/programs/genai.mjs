// @google/genai, configured only by GEMINI_API_KEY and GOOGLE_GEMINI_BASE_URL (it adds the API
// version itself: v1 by default since 3.1).
import { GoogleGenAI } from "@google/genai";
const ai = new GoogleGenAI({});
const plain = (await ai.models.generateContent({ model: "gemini-fake", contents: "ping" })).text;
let streamed = "";
for await (const chunk of await ai.models.generateContentStream({ model: "gemini-fake", contents: "ping" })) streamed += chunk.text ?? "";
const beta = new GoogleGenAI({ httpOptions: { apiVersion: "v1beta" } });
const v1beta = (await beta.models.generateContent({ model: "gemini-fake", contents: "ping" })).text;
console.log(JSON.stringify({ plain, streamed, v1beta }));
