/**
 * The generate form: prompt, model, sampler, steps, guidance, seed, size, count and an optional
 * init image. It hands requests to the queue and shows the server's validation errors next to
 * the field they name.
 */
import { ApiError, request } from './api.js';
import { announce, el, randomSeed } from './dom.js';
import { examplesFor } from './examples.js';
import { MaskEditor } from './mask.js';
import { PromptHistory } from './prompts.js';

/** Request fields shown by a form control (the id of the control that gets the error). */
const FIELD_CONTROLS = {
  prompt: 'prompt',
  negative_prompt: 'negative_prompt',
  model: 'model',
  sampler: 'sampler',
  steps: 'steps',
  guidance_scale: 'guidance_scale',
  n: 'n',
  seed: 'seed',
  width: 'width',
  height: 'height',
  init_image: 'init-file',
  strength: 'strength',
  mask: 'mask-canvas',
  mask_blur: 'mask-blur',
  inpaint_fill: 'inpaint-fill',
  hires_fix: 'hires-enabled',
  'hires_fix.scale': 'hires-scale',
  'hires_fix.steps': 'hires-steps',
  'hires_fix.strength': 'hires-strength',
  'hires_fix.upscaler': 'hires-upscaler',
};

const byId = (id) => document.getElementById(id);

/** SDXL's usual sizes: its native 1024×1024 and the aspect buckets it was trained on (about a megapixel each). */
const SDXL_PRESETS = [
  ['Square', 1024, 1024],
  ['Landscape 9:7', 1152, 896],
  ['Portrait 7:9', 896, 1152],
  ['Landscape 3:2', 1216, 832],
  ['Portrait 2:3', 832, 1216],
  ['Wide 16:9', 1344, 768],
  ['Tall 9:16', 768, 1344],
];

/** The size presets for a model's family, as [name, width, height], without repeated sizes. */
function sizePresets(model) {
  const defaultSize = ['Default', model.default_width, model.default_height];
  let presets;
  if (model.family === 'sdxl') {
    // An SDXL model of the usual size needs no "Default" chip next to "Square 1024×1024".
    const usual = SDXL_PRESETS.some(([, w, h]) => w === model.default_width && h === model.default_height);
    presets = usual ? SDXL_PRESETS : [defaultSize, ...SDXL_PRESETS];
  } else {
    const base = Math.min(model.default_width, model.default_height);
    const round8 = (value) => Math.max(64, Math.round(value / 8) * 8);
    presets = [
      defaultSize,
      ['Square', base, base],
      ['Landscape', round8(base * 1.5), base],
      ['Portrait', base, round8(base * 1.5)],
      ['Large', round8(model.default_width * 2), round8(model.default_height * 2)],
    ];
  }
  const seen = new Set();
  return presets.filter(([, w, h]) => !seen.has(`${w}x${h}`) && seen.add(`${w}x${h}`));
}

/** The largest image area (width × height) the server takes on a model; no limit when it does not say. */
function maxPixels(model) {
  return model.max_pixels > 0 ? model.max_pixels : Infinity;
}

/** 1048576 as "1,048,576". */
const pixels = (count) => count.toLocaleString('en-US');

export class GenerateForm {
  /** @param {{submit: function(object): Promise<object>}} handlers submit posts a request body and returns the job */
  constructor(handlers) {
    this.handlers = handlers;
    this.models = [];
    this.initImage = null;
    this.form = byId('generate-form');
    this.mask = new MaskEditor();
    this.promptHistory = new PromptHistory({ onPick: (entry) => this.usePrompt(entry) });
    this.bind();
  }

  /** Loads models and samplers into the selects; returns the models. */
  async load() {
    const [models, samplers, upscalers] = await Promise.all([request('GET', '/api/v1/models'), request('GET', '/api/v1/samplers'),
      request('GET', '/api/v1/upscalers').catch(() => ({ items: [{ name: 'Latent' }] }))]);
    byId('hires-upscaler').replaceChildren(...upscalers.items.map((u) =>
        el('option', { value: u.name, selected: u.name === 'Latent' }, u.name)));
    this.models = models.items;
    const modelSelect = byId('model');
    modelSelect.replaceChildren(...this.models.map((m) => el('option', { value: m.id, selected: m.default }, m.name || m.id)));
    this.samplers = samplers.items;
    const samplerSelect = byId('sampler');
    samplerSelect.replaceChildren(...samplers.items.map((s) =>
        el('option', { value: s.name, selected: s.name === 'euler_a' }, s.a1111_name || s.name)));
    this.modelChanged();
    return this.models;
  }

  /** A sampler's display name (A1111's), or its API name when unknown. */
  samplerName(name) {
    const sampler = (this.samplers || []).find((s) => s.name === name);
    return sampler ? sampler.a1111_name : name;
  }

  selectedModel() {
    return this.models.find((m) => m.id === byId('model').value);
  }

  bind() {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    for (const id of ['prompt', 'negative_prompt']) {
      byId(id).addEventListener('keydown', (event) => {
        if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.form.requestSubmit();
        }
      });
    }
    byId('model').addEventListener('change', () => this.modelChanged());
    byId('seed-dice').addEventListener('click', () => {
      this.setSeed(randomSeed());
      byId('seed').focus();
    });
    byId('seed-random').addEventListener('change', () => { byId('seed').value = ''; });
    byId('seed').addEventListener('input', () => {
      byId(byId('seed').value === '' ? 'seed-random' : 'seed-fixed').checked = true;
    });
    byId('seed-fixed').addEventListener('change', () => {
      if (byId('seed').value === '') {
        this.setSeed(randomSeed());
      }
    });
    const strength = byId('strength');
    strength.addEventListener('input', () => { byId('strength-value').textContent = Number(strength.value).toFixed(2); });
    this.bindInitImage();
    for (const id of ['hires-enabled', 'hires-scale', 'width', 'height']) {
      byId(id).addEventListener('input', () => this.showHiresSize());
    }
    for (const id of ['width', 'height']) {
      byId(id).addEventListener('input', () => this.markPreset());
    }
    byId('hires-enabled').addEventListener('change', () => this.showHiresSize());
    for (const control of this.form.querySelectorAll('input, textarea, select')) {
      control.addEventListener('input', () => this.clearError(control.id));
    }
  }

  bindInitImage() {
    const zone = byId('drop-zone');
    const input = byId('init-file');
    input.addEventListener('change', () => {
      if (input.files.length) {
        this.readInitImage(input.files[0]);
      }
    });
    zone.addEventListener('dragover', (event) => {
      event.preventDefault();
      zone.classList.add('dragging');
    });
    zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
    zone.addEventListener('drop', (event) => {
      event.preventDefault();
      zone.classList.remove('dragging');
      const file = event.dataTransfer.files[0];
      if (file) {
        this.readInitImage(file);
      }
    });
    byId('init-remove').addEventListener('click', () => this.setInitImage(null));
  }

  readInitImage(file) {
    this.clearError('init-file');
    if (!['image/png', 'image/jpeg'].includes(file.type)) {
      this.showError('init_image', `${file.name} is not a PNG or JPEG image.`);
      return;
    }
    const reader = new FileReader();
    reader.addEventListener('load', () => this.setInitImage(reader.result));
    reader.readAsDataURL(file);
  }

  setInitImage(dataUrl) {
    this.initImage = dataUrl;
    const preview = byId('init-preview');
    byId('mask-wrap').hidden = !dataUrl;
    this.mask.reset(0, 0);
    if (dataUrl) {
      preview.addEventListener('load', () => this.mask.reset(preview.naturalWidth, preview.naturalHeight), { once: true });
    }
    preview.src = dataUrl || '';
    preview.alt = dataUrl ? 'The init image' : '';
    byId('init-remove').hidden = !dataUrl;
    byId('drop-text').hidden = Boolean(dataUrl);
    byId('init-file').value = '';
    if (dataUrl) {
      byId('img2img').open = true;
    }
  }

  modelChanged() {
    const model = this.selectedModel();
    if (!model) {
      return;
    }
    byId('model-description').textContent = model.description || '';
    const { prompts, hint } = examplesFor(model);
    byId('examples').replaceChildren(...prompts.map((prompt) => el('li', {},
        el('button', { type: 'button', class: 'chip', onclick: () => this.useExample(prompt) }, prompt))));
    byId('examples-label').textContent = hint || 'Examples:';
    byId('examples-label').parentElement.hidden = prompts.length === 0;
    const presets = sizePresets(model);
    const fits = (w, h) => w * h <= maxPixels(model);
    byId('size-presets').replaceChildren(...presets.map(([name, w, h]) => el('button', {
      type: 'button',
      class: 'chip',
      disabled: !fits(w, h),
      title: fits(w, h) ? null
          : `${w}×${h} is ${pixels(w * h)} pixels: this server allows at most ${pixels(maxPixels(model))} on this model.`,
      'aria-pressed': 'false',
      dataset: { width: w, height: h },
      onclick: () => this.setSize(w, h),
    }, `${name} ${w}×${h}`)));
    // The model's own size, unless the server allows less: then the first preset that fits.
    const fallback = presets.find(([, w, h]) => fits(w, h));
    if (fits(model.default_width, model.default_height) || !fallback) {
      this.setSize(model.default_width, model.default_height);
    } else {
      this.setSize(fallback[1], fallback[2]);
    }
  }

  /** Puts a prompt from the history in the form, with its negative prompt. */
  usePrompt(entry) {
    byId('prompt').value = entry.prompt;
    byId('negative_prompt').value = entry.negative_prompt || '';
    this.clearError('prompt');
    this.clearError('negative_prompt');
    byId('prompt').focus();
    announce('The prompt is in the form.');
  }

  useExample(prompt) {
    byId('prompt').value = prompt;
    this.clearError('prompt');
    byId('prompt').focus();
  }

  setSize(width, height) {
    byId('width').value = width;
    byId('height').value = height;
    this.clearError('width');
    this.clearError('height');
    this.showHiresSize();
    this.markPreset();
  }

  /** Marks the size preset that matches the width and height fields as pressed. */
  markPreset() {
    for (const chip of byId('size-presets').children) {
      const pressed = chip.dataset.width === byId('width').value && chip.dataset.height === byId('height').value;
      chip.setAttribute('aria-pressed', String(pressed));
    }
  }

  /** The hires fix's final size under its checkbox, as the server computes it (multiples of 8). */
  showHiresSize() {
    const scale = Number(byId('hires-scale').value);
    const width = Number(byId('width').value);
    const height = Number(byId('height').value);
    const on = byId('hires-enabled').checked;
    byId('hires-size').textContent = on && scale >= 1 && width > 0 && height > 0
      ? `${width}×${height} upscaled to ${Math.floor(width * scale / 8) * 8}×${Math.floor(height * scale / 8) * 8}`
        + (this.initImage ? ' (text to image only: remove the init image)' : '')
      : '';
  }

  setSeed(seed) {
    byId('seed').value = seed;
    byId('seed-fixed').checked = true;
    this.clearError('seed');
  }

  /** Fills the form from a stored request: what = 'all', 'prompt' or 'seed'. */
  fill(params, what) {
    if (what === 'all' || what === 'prompt') {
      byId('prompt').value = params.prompt || '';
      byId('negative_prompt').value = params.negative_prompt || '';
    }
    if (what === 'all' || what === 'seed') {
      this.setSeed(params.seed);
    }
    if (what === 'all') {
      if (this.models.some((m) => m.id === params.model)) {
        byId('model').value = params.model;
        this.modelChanged();
      }
      if ([...byId('sampler').options].some((o) => o.value === params.sampler)) {
        byId('sampler').value = params.sampler;
      }
      byId('steps').value = params.steps;
      byId('guidance_scale').value = params.guidance_scale;
      this.setSize(params.width, params.height);
      byId('n').value = 1;
      const hires = params.hires_fix;
      byId('hires-enabled').checked = Boolean(hires);
      if (hires) {
        byId('hires-scale').value = hires.scale;
        byId('hires-steps').value = hires.steps;
        byId('hires-strength').value = hires.strength;
        if ([...byId('hires-upscaler').options].some((o) => o.value === hires.upscaler)) {
          byId('hires-upscaler').value = hires.upscaler;
        }
        byId('hires').open = true;
      }
      this.showHiresSize();
    }
    this.clearAllErrors();
    announce(what === 'seed' ? `Seed ${params.seed} is in the form.` : 'The form is filled in.');
  }

  /** The request body, or null after showing the errors found before sending. */
  body() {
    const body = {};
    let valid = true;
    const prompt = byId('prompt').value.trim();
    if (!prompt) {
      this.showError('prompt', 'Write a prompt first: try one of the examples.');
      valid = false;
    }
    body.prompt = prompt;
    const negative = byId('negative_prompt').value.trim();
    if (negative) {
      body.negative_prompt = negative;
    }
    body.model = byId('model').value || undefined;
    body.sampler = byId('sampler').value || undefined;
    const numbers = { steps: 'steps', guidance_scale: 'guidance', n: 'the number of images', width: 'width', height: 'height' };
    for (const [field, label] of Object.entries(numbers)) {
      const input = byId(field);
      if (input.validity.badInput) {
        this.showError(field, `Enter a number for ${label}.`);
        valid = false;
      } else if (input.value !== '') {
        body[field] = Number(input.value);
      }
    }
    if (byId('seed-fixed').checked) {
      const seed = byId('seed');
      if (seed.validity.badInput || seed.value === '') {
        this.showError('seed', 'Enter a whole number for the seed, or choose Random.');
        valid = false;
      } else {
        body.seed = Number(seed.value);
      }
    } else {
      body.seed = -1;
    }
    if (this.initImage) {
      body.init_image = this.initImage;
      body.strength = Number(byId('strength').value);
      Object.assign(body, this.mask.fields());
    }
    if (byId('hires-enabled').checked) {
      const hires = { upscaler: byId('hires-upscaler').value || 'Latent' };
      const numbers = { scale: 'hires-scale', steps: 'hires-steps', strength: 'hires-strength' };
      for (const [field, id] of Object.entries(numbers)) {
        const input = byId(id);
        if (input.validity.badInput) {
          this.showError(`hires_fix.${field}`, 'Enter a number.');
          valid = false;
        } else if (input.value !== '') {
          hires[field] = Number(input.value);
        }
      }
      body.hires_fix = hires;
    }
    return valid ? body : null;
  }

  async submit() {
    this.clearAllErrors();
    const body = this.body();
    if (!body) {
      this.focusFirstError();
      return;
    }
    const button = byId('generate-button');
    button.disabled = true;
    try {
      const job = await this.handlers.submit(body);
      this.showWarnings(job.warnings || []);
      announce(job.position > 0 ? `Queued at position ${job.position}.` : 'Queued.');
    } catch (error) {
      if (error instanceof ApiError && error.field && FIELD_CONTROLS[error.field]) {
        this.showError(error.field, error.message);
      } else {
        const formError = byId('form-error');
        formError.textContent = error.message;
        formError.hidden = false;
      }
      this.focusFirstError();
    } finally {
      button.disabled = false;
    }
  }

  /** The model card's warnings about the prompt just queued (it runs anyway). */
  showWarnings(warnings) {
    const list = byId('prompt-warning');
    list.replaceChildren(...warnings.map((warning) => el('li', {}, warning)));
    list.hidden = warnings.length === 0;
  }

  showError(field, message) {
    const controlId = FIELD_CONTROLS[field] || field;
    const control = byId(controlId);
    const messageBox = byId(`${field}-error`);
    if (['init_image', 'strength', 'mask', 'mask_blur', 'mask_invert', 'inpaint_fill'].includes(field)) {
      byId('img2img').open = true;
    }
    if (field.startsWith('hires_fix')) {
      byId('hires').open = true;
    }
    if (control) {
      control.setAttribute('aria-invalid', 'true');
    }
    if (messageBox) {
      messageBox.textContent = message;
      messageBox.hidden = false;
    }
  }

  clearError(controlId) {
    const field = Object.keys(FIELD_CONTROLS).find((f) => FIELD_CONTROLS[f] === controlId) || controlId;
    const control = byId(controlId);
    if (control) {
      control.removeAttribute('aria-invalid');
    }
    const message = byId(`${field}-error`);
    if (message) {
      message.hidden = true;
      message.textContent = '';
    }
    byId('form-error').hidden = true;
  }

  clearAllErrors() {
    for (const control of Object.values(FIELD_CONTROLS)) {
      this.clearError(control);
    }
  }

  focusFirstError() {
    const invalid = this.form.querySelector('[aria-invalid="true"]');
    (invalid || byId('form-error')).focus?.();
    if (invalid && invalid.id === 'init-file') {
      byId('drop-zone').scrollIntoView({ block: 'center' });
    }
  }
}
