// The official OpenAI Node client against a running llmfleet server: completions, chat, streaming with
// include_usage, and error cases. Prints one JSON object with what it saw; tests/serve/test_engine_server_e2e.cpp
// checks it. Usage: node openai_client.mjs BASE_URL MODEL [API_KEY]
import OpenAI from "openai";

const [baseURL, model, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: apiKey ?? "unused", maxRetries: 0, timeout: 60000 });
const out = {};

const completion = await client.completions.create({ model, prompt: "Hello", max_tokens: 6, temperature: 0 });
out.completion = { text: completion.choices[0].text, finish_reason: completion.choices[0].finish_reason,
                   usage: completion.usage, object: completion.object };

const messages = [{ role: "user", content: "Say hi" }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: 6, temperature: 0 });
out.chat = { role: chat.choices[0].message.role, content: chat.choices[0].message.content,
             finish_reason: chat.choices[0].finish_reason, usage: chat.usage, object: chat.object };

const stream = await client.chat.completions.create({
  model, messages, max_tokens: 6, temperature: 0, stream: true, stream_options: { include_usage: true } });
const s = { content: "", roles: [], finish_reasons: [], usage: null, n_chunks: 0 };
for await (const chunk of stream) {
  s.n_chunks += 1;
  if (chunk.usage) s.usage = chunk.usage;
  for (const c of chunk.choices) {
    if (c.delta.role) s.roles.push(c.delta.role);
    if (c.delta.content) s.content += c.delta.content;
    if (c.finish_reason) s.finish_reasons.push(c.finish_reason);
  }
}
out.chat_stream = s;

const cstream = await client.completions.create({ model, prompt: "Hello", max_tokens: 6, temperature: 0, stream: true });
let ctext = "";
for await (const chunk of cstream) ctext += chunk.choices.map((c) => c.text).join("");
out.completion_stream = { text: ctext };

async function error_of(f) {
  try { await f(); return null; } catch (e) {
    return { status: e.status ?? null, type: e.type ?? null, code: e.code ?? null, param: e.param ?? null,
             message: e.message ?? "" };
  }
}
out.unknown_model = await error_of(() => client.completions.create({ model: "nope", prompt: "x", max_tokens: 1 }));
out.bad_temperature = await error_of(() =>
  client.chat.completions.create({ model, messages, max_tokens: 1, temperature: 5 }));
out.models = (await client.models.list()).data.map((m) => m.id);
console.log(JSON.stringify(out));
