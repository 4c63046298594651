/**
 * Example prompts that suit a model. A model with a model card (Daguerre's own default model) lists
 * its own examples, caption form and what it draws well in /api/v1/models (`prompts`); Stable
 * Diffusion checkpoints take free text.
 */

const FREE_TEXT_EXAMPLES = [
  'a lighthouse on a cliff at dawn, watercolor painting',
  'a red fox sleeping in the snow, photograph, soft light',
  'a cozy reading nook with plants, warm evening light, highly detailed',
];

/** {prompts, hint} for a model from /api/v1/models. */
export function examplesFor(model) {
  if (!model) {
    return { prompts: [], hint: '' };
  }
  if (model.prompts) {
    const hint = `This model understands only captions of the form “${model.prompts.grammar}”. `
        + `It draws well: ${model.prompts.draws_well}.`;
    return { prompts: model.prompts.examples, hint };
  }
  return { prompts: FREE_TEXT_EXAMPLES, hint: '' };
}
