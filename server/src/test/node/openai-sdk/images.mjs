// Generates images through the official OpenAI Node SDK against the server at OPENAI_BASE_URL
// (with OPENAI_API_KEY) and prints what came back as one JSON line, for OpenAiSdkClientTest.
import OpenAI from "openai";

const client = new OpenAI({ maxRetries: 0, timeout: 30_000 });
const result = {};

const models = [];
for await (const model of client.models.list()) {
  models.push(model.id);
}
result.models = models;

const b64 = await client.images.generate({
  model: "tiny",
  prompt: "a lighthouse, drawn by the OpenAI SDK",
  n: 2,
  size: "64x64",
  response_format: "b64_json",
  seed: 1234,
  steps: 2,
});
result.created = b64.created;
result.b64 = b64.data.map((image) => {
  const png = Buffer.from(image.b64_json, "base64");
  return { bytes: png.length, signature: png.subarray(1, 4).toString("latin1"), revised_prompt: image.revised_prompt };
});

const url = await client.images.generate({ prompt: "a teapot", size: "64x64", response_format: "url", steps: 1 });
result.url = url.data[0].url;

try {
  await client.images.generate({ model: "dall-e-3", prompt: "no such model" });
  result.error = null;
} catch (error) {
  result.error = { name: error.constructor.name, status: error.status, param: error.param, code: error.code, type: error.type };
}

const unauthorized = new OpenAI({ apiKey: "wrong-key", maxRetries: 0 });
try {
  await unauthorized.images.generate({ prompt: "x" });
  result.unauthorized = null;
} catch (error) {
  result.unauthorized = { name: error.constructor.name, status: error.status };
}

console.log(JSON.stringify(result));
