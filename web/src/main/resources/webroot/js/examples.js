/**
 * Example prompts that suit a model. Daguerre's own default model was trained on emoji art with
 * captions of exactly one form, "{emoji name}, {twemoji|noto} style, on a {colour} background"
 * (the article is always "a"), and understands nothing else; Stable Diffusion checkpoints take
 * free text.
 */

const EMOJI_EXAMPLES = [
  'red heart, twemoji style, on a blue background',
  'yellow heart, twemoji style, on a purple background',
  'grinning face, noto style, on a yellow background',
  'rocket, twemoji style, on a black background',
  'pizza, noto style, on a orange background',
];

const EMOJI_HINT = 'This model understands only captions like these: “emoji name, twemoji or noto style, on a colour background” '
    + '(white, black, gray, red, orange, yellow, green, blue, purple or pink).';

const FREE_TEXT_EXAMPLES = [
  'a lighthouse on a cliff at dawn, watercolor painting',
  'a red fox sleeping in the snow, photograph, soft light',
  'a cozy reading nook with plants, warm evening light, highly detailed',
];

/** Whether a model is one of Daguerre's emoji caption models (by its name, or its small native size). */
export function isEmojiModel(model) {
  const text = `${model.id} ${model.name} ${model.description || ''}`;
  return /emoji|twemoji|noto/i.test(text) || (model.default_width <= 64 && model.default_height <= 64);
}

/** {prompts, hint} for a model from /api/v1/models. */
export function examplesFor(model) {
  if (!model) {
    return { prompts: [], hint: '' };
  }
  return isEmojiModel(model) ? { prompts: EMOJI_EXAMPLES, hint: EMOJI_HINT } : { prompts: FREE_TEXT_EXAMPLES, hint: '' };
}
