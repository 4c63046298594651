/**
 * PNG Info: the generation parameters of a PNG or JPEG (Daguerre's or A1111's), read by the server
 * (/sdapi/v1/png-info), shown field by field, and "Use these parameters" to fill the generate form.
 * An image dropped anywhere on the page comes here, except on the image-to-image drop zone.
 */
import { request } from './api.js';
import { announce, el, readAsDataUrl } from './dom.js';

const byId = (id) => document.getElementById(id);
const IMAGE_TYPES = ['image/png', 'image/jpeg'];

/** "512x768" as [512, 768], or null. */
function size(text) {
  const match = /^(\d+)x(\d+)$/.exec(text || '');
  return match ? [Number(match[1]), Number(match[2])] : null;
}

export class PngInfoView {
  /** @param {import('./generate.js').GenerateForm} form the form "Use these parameters" fills */
  constructor(form) {
    this.form = form;
    this.parameters = null;
    this.bind();
  }

  bind() {
    const input = byId('pnginfo-file');
    input.addEventListener('change', () => {
      if (input.files.length) {
        this.read(input.files[0]);
      }
      input.value = '';
    });
    const carriesFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes('Files');
    document.addEventListener('dragover', (event) => {
      if (carriesFiles(event)) {
        event.preventDefault(); // lets the drop happen anywhere
      }
    });
    document.addEventListener('drop', (event) => {
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (event.defaultPrevented || !file) {
        return; // the image-to-image drop zone took it
      }
      event.preventDefault();
      this.read(file);
      byId('pnginfo-panel').scrollIntoView({ block: 'nearest' });
    });
    byId('pnginfo-use').addEventListener('click', () => this.use());
  }

  /** Shows what was read, or why nothing was. */
  report(status, error) {
    byId('pnginfo-status').textContent = status || '';
    const box = byId('pnginfo-error');
    box.textContent = error || '';
    box.hidden = !error;
  }

  showParameters(parameters) {
    this.parameters = parameters;
    const meta = byId('pnginfo-meta');
    meta.replaceChildren(...Object.entries(parameters || {}).flatMap(([name, value]) => [
      el('dt', {}, name), el('dd', { dataset: { field: name.toLowerCase().replace(/\W+/g, '_') } }, value || '—'),
    ]));
    meta.hidden = !parameters;
    byId('pnginfo-use').hidden = !parameters;
  }

  async read(file) {
    this.showParameters(null);
    if (!IMAGE_TYPES.includes(file.type)) {
      this.report(null, `${file.name} is not a PNG or JPEG image.`);
      return;
    }
    this.report(`Reading ${file.name}…`);
    try {
      const info = await request('POST', '/sdapi/v1/png-info', { json: { image: await readAsDataUrl(file) } });
      if (!info.info) {
        this.report(null, `${file.name} holds no generation parameters (no “parameters” text in the PNG,`
            + ' no EXIF comment in the JPEG): it was not saved by Daguerre or A1111 with its parameters.');
        return;
      }
      this.showParameters(info.parameters);
      this.report(`The parameters of ${file.name}:`);
      announce(`The parameters of ${file.name} are shown under PNG Info.`);
    } catch (error) {
      this.report(null, `${file.name} could not be read: ${error.message}`);
    }
  }

  /** The shown parameters as a native request, the form's own values standing in for those the image lacks. */
  request() {
    const p = this.parameters;
    const number = (value, fallback) => (value !== undefined && value !== '' && Number.isFinite(Number(value)) ? Number(value) : fallback);
    const [width, height] = size(p.Size) || [Number(byId('width').value), Number(byId('height').value)];
    const karras = p['Schedule type'] === 'Karras' && p.Sampler && !p.Sampler.endsWith('Karras');
    const samplerName = karras ? `${p.Sampler} Karras` : p.Sampler;
    const sampler = (this.form.samplers || []).find((s) => s.a1111_name === samplerName || s.name === samplerName);
    // the checkpoint of that hash, and of that name among copies of the same file
    const hashed = (m) => Boolean(p['Model hash']) && m.hash === p['Model hash'];
    const named = (m) => Boolean(p.Model) && (m.id === p.Model || m.name === p.Model);
    const models = this.form.models;
    const model = models.find((m) => hashed(m) && named(m)) || models.find(hashed) || models.find(named);
    const params = {
      prompt: p.Prompt || '',
      negative_prompt: p['Negative prompt'] || '',
      model: model ? model.id : byId('model').value,
      sampler: sampler ? sampler.name : byId('sampler').value,
      steps: number(p.Steps, Number(byId('steps').value)),
      guidance_scale: number(p['CFG scale'], Number(byId('guidance_scale').value)),
      seed: number(p.Seed, undefined),
      width,
      height,
    };
    const hiresSize = size(p['Hires resize']);
    if (p['Hires upscale'] || hiresSize) {
      params.hires_fix = {
        scale: hiresSize ? hiresSize[0] / width : number(p['Hires upscale'], 2),
        steps: number(p['Hires steps'], 0),
        strength: number(p['Denoising strength'], Number(byId('hires-strength').value)),
        upscaler: p['Hires upscaler'],
      };
    }
    const notes = [];
    if ((p.Model || p['Model hash']) && !model) {
      notes.push(`The model ${p.Model || p['Model hash']} is not on this server: the model picked stays.`);
    }
    if (p.Sampler && !sampler) {
      notes.push(`The sampler ${samplerName} is not in Daguerre: the sampler picked stays.`);
    }
    return { params, notes };
  }

  use() {
    if (!this.parameters) {
      return;
    }
    const { params, notes } = this.request();
    this.form.fill(params, 'all');
    if (params.seed === undefined) {
      byId('seed').value = '';
      byId('seed-random').checked = true;
    }
    this.report(['The form is filled in.', ...notes].join(' '));
    byId('prompt').focus();
  }
}
