// Edits an image through the official OpenAI Node SDK's images.edit against the server at
// OPENAI_BASE_URL: EDIT_IMAGE (a PNG) with EDIT_MASK (a PNG whose transparent pixels mark the area to
// edit), then EDIT_ALPHA_IMAGE alone (its own transparency is the mask); prints one JSON line, for
// OpenAiSdkClientTest.
import fs from "node:fs";
import OpenAI, { toFile } from "openai";

const client = new OpenAI({ maxRetries: 0, timeout: 60_000 });
const result = {};

const png = async (path) => toFile(fs.readFileSync(path), path.split("/").pop(), { type: "image/png" });

const edited = await client.images.edit({
  model: "tiny",
  image: await png(process.env.EDIT_IMAGE),
  mask: await png(process.env.EDIT_MASK),
  prompt: "a red apple, edited by the OpenAI SDK",
  n: 1,
  size: process.env.EDIT_SIZE,
  response_format: "b64_json",
  seed: 21,
  steps: 2,
});
result.b64 = edited.data.map((image) => image.b64_json);
result.revised_prompt = edited.data[0].revised_prompt;

const ownAlpha = await client.images.edit({
  image: await png(process.env.EDIT_ALPHA_IMAGE),
  prompt: "a blue square",
  response_format: "url",
  steps: 1,
});
result.url = ownAlpha.data[0].url;

try {
  await client.images.edit({ image: await png(process.env.EDIT_IMAGE), prompt: "no transparency anywhere", steps: 1 });
  result.error = null;
} catch (error) {
  result.error = { name: error.constructor.name, status: error.status, param: error.param, type: error.type };
}

console.log(JSON.stringify(result));
