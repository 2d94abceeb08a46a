/**
 * The model APIs real clients call, on 127.0.0.1, for the client suite (test/clients/). One server
 * answers all of them, routed by the path's end, in the shapes the providers document:
 *
 *   OpenAI     POST …/chat/completions          platform.openai.com/docs/api-reference/chat
 *              POST …/responses (SSE or WS)     platform.openai.com/docs/api-reference/responses
 *              GET  …/models                    (OpenRouter's chat completions are the same shape)
 *   Anthropic  POST …/v1/messages, …/v1/messages/count_tokens, GET …/v1/models
 *                                               docs.anthropic.com/en/api/messages, …/messages-streaming
 *   Gemini     POST …/models/M:generateContent, :streamGenerateContent?alt=sse, :countTokens
 *                                               ai.google.dev/api/generate-content
 *
 * Every request is recorded with the credential it presented; one that presents none of the keys
 * the server was given gets the provider's 401. The answer's text is always `REPLY` (streamed in
 * three pieces), so a client's output shows whether the call went through.
 */
import type { Server, ServerWebSocket } from "bun";

export const REPLY = "pong from the fake";

export interface ModelApiRequest {
  method: string;
  path: string;
  /** The credential as presented: Bearer token, x-api-key, x-goog-api-key or ?key=. */
  credential: string | undefined;
  stream: boolean;
  websocket?: boolean;
  status: number;
}

export interface ModelApis {
  url: string;
  port: number;
  requests: ModelApiRequest[];
  /** Called on every request before it is answered (the suite snapshots the client's processes here). */
  onRequest?: () => void;
  stop(): void;
}

const encoder = new TextEncoder();
const PIECES = ["pong ", "from ", "the fake"];

function credentialOf(req: Request, url: URL): string | undefined {
  const bearer = /^Bearer\s+(\S+)/i.exec(req.headers.get("authorization") ?? "")?.[1];
  return (
    bearer ??
    req.headers.get("x-api-key") ??
    req.headers.get("x-goog-api-key") ??
    url.searchParams.get("key") ??
    undefined
  );
}

function sse(events: Array<{ event?: string; data: unknown }>): Response {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i > 0) await Bun.sleep(5);
      const e = events[i++]!;
      const data = typeof e.data === "string" ? e.data : JSON.stringify(e.data);
      controller.enqueue(encoder.encode(`${e.event ? `event: ${e.event}\n` : ""}data: ${data}\n\n`));
      if (i === events.length) controller.close();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}

const now = () => Math.floor(Date.now() / 1000);

function chatCompletions(model: string, stream: boolean): Response {
  const base = { id: "chatcmpl-fake1", created: now(), model };
  if (!stream) {
    return Response.json({
      ...base,
      object: "chat.completion",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: REPLY, refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
    });
  }
  const chunk = (delta: object, finish: string | null) => ({
    data: {
      ...base,
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    },
  });
  return sse([
    chunk({ role: "assistant", content: "" }, null),
    ...PIECES.map((text) => chunk({ content: text }, null)),
    {
      data: { ...chunk({}, "stop").data, usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } },
    },
    { data: "[DONE]" },
  ]);
}

/** The Responses API's events, in order; also what codex's WebSocket transport receives. */
function responsesEvents(model: string): Array<Record<string, unknown>> {
  const id = `resp_fake${Date.now()}`;
  const usage = {
    input_tokens: 5,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 4,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 9,
  };
  const response = (status: string, output: unknown[]) => ({
    id,
    object: "response",
    created_at: now(),
    status,
    model,
    output,
    usage: status === "completed" ? usage : null,
    error: null,
    incomplete_details: null,
    instructions: null,
    metadata: {},
    parallel_tool_calls: true,
    temperature: 1,
    tool_choice: "auto",
    tools: [],
    top_p: 1,
  });
  const part = { type: "output_text", text: REPLY, annotations: [] };
  const item = { id: "msg_fake1", type: "message", status: "completed", role: "assistant", content: [part] };
  const events: Array<Record<string, unknown>> = [
    { type: "response.created", response: response("in_progress", []) },
    { type: "response.in_progress", response: response("in_progress", []) },
    {
      type: "response.output_item.added",
      output_index: 0,
      item: { ...item, status: "in_progress", content: [] },
    },
    {
      type: "response.content_part.added",
      item_id: item.id,
      output_index: 0,
      content_index: 0,
      part: { ...part, text: "" },
    },
    ...PIECES.map((delta) => ({
      type: "response.output_text.delta",
      item_id: item.id,
      output_index: 0,
      content_index: 0,
      delta,
      logprobs: [],
    })),
    {
      type: "response.output_text.done",
      item_id: item.id,
      output_index: 0,
      content_index: 0,
      text: REPLY,
      logprobs: [],
    },
    { type: "response.content_part.done", item_id: item.id, output_index: 0, content_index: 0, part },
    { type: "response.output_item.done", output_index: 0, item },
    { type: "response.completed", response: response("completed", [item]) },
  ];
  return events.map((e, n) => ({ ...e, sequence_number: n }));
}

function responses(model: string, stream: boolean): Response {
  const events = responsesEvents(model);
  if (!stream) return Response.json((events.at(-1) as { response: unknown }).response);
  return sse(events.map((data) => ({ event: data.type as string, data })));
}

function anthropicMessages(model: string, stream: boolean): Response {
  const message = {
    id: "msg_fake1",
    type: "message",
    role: "assistant",
    model,
    stop_reason: null,
    stop_sequence: null,
  };
  if (!stream) {
    return Response.json({
      ...message,
      content: [{ type: "text", text: REPLY }],
      stop_reason: "end_turn",
      usage: { input_tokens: 5, output_tokens: 4 },
    });
  }
  const ev = (event: string, data: object) => ({ event, data: { type: event, ...data } });
  return sse([
    ev("message_start", {
      message: { ...message, content: [], usage: { input_tokens: 5, output_tokens: 1 } },
    }),
    ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    ev("ping", {}),
    ...PIECES.map((text) => ev("content_block_delta", { index: 0, delta: { type: "text_delta", text } })),
    ev("content_block_stop", { index: 0 }),
    ev("message_delta", {
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: 4 },
    }),
    ev("message_stop", {}),
  ]);
}

function geminiChunk(text: string, last: boolean, model: string) {
  return {
    candidates: [
      { content: { parts: [{ text }], role: "model" }, index: 0, ...(last ? { finishReason: "STOP" } : {}) },
    ],
    usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 4, totalTokenCount: 9 },
    modelVersion: model,
    responseId: "fake-response-1",
  };
}

function providerError(kind: "openai" | "anthropic" | "gemini", status: number, message: string): Response {
  if (kind === "anthropic")
    return Response.json(
      {
        type: "error",
        error: { type: status === 401 ? "authentication_error" : "not_found_error", message },
      },
      { status },
    );
  if (kind === "gemini")
    return Response.json(
      { error: { code: status, message, status: status === 401 ? "UNAUTHENTICATED" : "NOT_FOUND" } },
      { status },
    );
  return Response.json(
    {
      error: {
        message,
        type: "invalid_request_error",
        param: null,
        code: status === 401 ? "invalid_api_key" : null,
      },
    },
    { status },
  );
}

export function startModelApis(keys: string[]): ModelApis {
  const state: ModelApis = { url: "", port: 0, requests: [], stop: () => void server.stop(true) };
  const accepted = new Set(keys);

  async function answer(req: Request, server: Server<{ model: string }>): Promise<Response | undefined> {
    const url = new URL(req.url);
    const path = url.pathname;
    const body =
      req.method === "POST" ? ((await req.json().catch(() => ({}))) as Record<string, unknown>) : {};
    const kind =
      path.includes("/models/") && path.includes(":")
        ? "gemini"
        : /\/v1\/(messages|models)/.test(path) && req.headers.has("anthropic-version")
          ? "anthropic"
          : "openai";
    const stream = body.stream === true || path.endsWith(":streamGenerateContent");
    const credential = credentialOf(req, url);
    const record: ModelApiRequest = {
      method: req.method,
      path: path + url.search,
      credential,
      stream,
      status: 0,
    };
    state.requests.push(record);
    state.onRequest?.();
    const done = (res: Response) => ((record.status = res.status), res);
    if (!credential || !accepted.has(credential)) return done(providerError(kind, 401, "invalid api key"));
    const model = String(body.model ?? path.match(/models\/([^:/]+)/)?.[1] ?? "fake-model");

    if (req.headers.get("upgrade")?.toLowerCase() === "websocket" && path.endsWith("/responses")) {
      record.websocket = true;
      record.status = 101;
      return server.upgrade(req, { data: { model } })
        ? undefined
        : done(new Response("upgrade failed", { status: 400 }));
    }
    if (kind === "gemini") {
      if (path.endsWith(":countTokens")) return done(Response.json({ totalTokens: 5 }));
      if (path.endsWith(":streamGenerateContent"))
        return done(sse(PIECES.map((t, i) => ({ data: geminiChunk(t, i === PIECES.length - 1, model) }))));
      if (path.endsWith(":generateContent")) return done(Response.json(geminiChunk(REPLY, true, model)));
      return done(providerError(kind, 404, `no such method: ${path}`));
    }
    if (kind === "anthropic") {
      if (path.endsWith("/messages/count_tokens")) return done(Response.json({ input_tokens: 5 }));
      if (path.endsWith("/messages")) return done(anthropicMessages(model, stream));
      if (path.endsWith("/models"))
        return done(
          Response.json({
            data: [
              { type: "model", id: "claude-fake", display_name: "Fake", created_at: "2025-01-01T00:00:00Z" },
            ],
            has_more: false,
            first_id: "claude-fake",
            last_id: "claude-fake",
          }),
        );
      return done(providerError(kind, 404, `not found: ${path}`));
    }
    if (path.endsWith("/chat/completions")) return done(chatCompletions(model, stream));
    if (path.endsWith("/responses")) return done(responses(model, stream));
    if (path.endsWith("/models"))
      return done(
        Response.json({
          object: "list",
          data: [{ id: "gpt-fake", object: "model", created: 0, owned_by: "fake" }],
        }),
      );
    return done(providerError("openai", 404, `not found: ${path}`));
  }

  const server: Server<{ model: string }> = Bun.serve<{ model: string }>({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch: (req, server) => answer(req, server),
    websocket: {
      // codex's Responses WebSocket: each `response.create` message is answered with the same
      // events the SSE stream carries, one JSON text message each.
      message(ws: ServerWebSocket<{ model: string }>, message) {
        let type: unknown;
        try {
          type = (JSON.parse(String(message)) as { type?: unknown }).type;
        } catch {}
        if (type !== "response.create") return;
        for (const event of responsesEvents(ws.data.model)) ws.send(JSON.stringify(event));
      },
    },
  });
  state.port = server.port!;
  state.url = `http://127.0.0.1:${server.port}`;
  return state;
}
