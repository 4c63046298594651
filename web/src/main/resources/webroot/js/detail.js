/**
 * The image detail view: the full image, every parameter (every field of its infotext too),
 * download, copy prompt, copy parameters (the infotext), favourite, delete (after a confirmation;
 * the Delete key asks the same), the reuse buttons and "send to image to image". Left and right
 * arrows move between images in gallery order; Esc closes.
 */
import { imageUrl, request } from './api.js';
import { announce, el, formatDate, readAsDataUrl } from './dom.js';

const byId = (id) => document.getElementById(id);

export class DetailView {
  /**
   * @param {import('./gallery.js').Gallery} gallery
   * @param {{onReuse: function(object, string), onSendToImageToImage: function(object, string),
   *          samplerName: function(string): string}} handlers onSendToImageToImage gets the parameters and the image as a data URL
   */
  constructor(gallery, handlers) {
    this.gallery = gallery;
    this.handlers = handlers;
    this.dialog = byId('detail');
    this.index = -1;
    this.current = null;
    this.bind();
  }

  bind() {
    byId('detail-close').addEventListener('click', () => this.dialog.close());
    byId('detail-prev').addEventListener('click', () => this.move(-1));
    byId('detail-next').addEventListener('click', () => this.move(1));
    byId('detail-copy').addEventListener('click', () => this.copy('detail-copy', this.current.prompt, 'The prompt is copied.'));
    byId('detail-copy-parameters').addEventListener('click', () =>
      this.copy('detail-copy-parameters', this.current.infotext, 'The parameters are copied.'));
    byId('detail-favorite').addEventListener('click', () => this.toggleFavorite());
    byId('detail-delete').addEventListener('click', () => this.confirmDelete());
    byId('reuse-all').addEventListener('click', () => this.reuse('all'));
    byId('reuse-prompt').addEventListener('click', () => this.reuse('prompt'));
    byId('reuse-seed').addEventListener('click', () => this.reuse('seed'));
    byId('send-img2img').addEventListener('click', () => this.sendToImageToImage());
    this.dialog.addEventListener('keydown', (event) => {
      if (event.target.closest('input, textarea, select')) {
        return;
      }
      if (event.key === 'ArrowLeft') {
        event.preventDefault();
        this.move(-1);
      } else if (event.key === 'ArrowRight') {
        event.preventDefault();
        this.move(1);
      } else if (event.key === 'Delete' && this.current) {
        event.preventDefault();
        this.confirmDelete();
      }
    });
    this.dialog.addEventListener('close', () => {
      if (this.current) {
        this.gallery.focus(this.current.id);
      }
    });
    this.dialog.addEventListener('click', (event) => {
      if (event.target === this.dialog) {
        this.dialog.close();
      }
    });
  }

  /** Opens the image at a gallery index. */
  async open(index) {
    if (!this.dialog.open) {
      this.dialog.showModal();
    }
    await this.show(index);
  }

  async show(index) {
    const item = this.gallery.items[index];
    if (!item) {
      return;
    }
    this.index = index;
    this.current = item;
    this.render(item);
    try {
      const metadata = await request('GET', `/api/v1/images/${encodeURIComponent(item.id)}/metadata`);
      if (this.current && this.current.id === item.id) {
        this.current = metadata;
        this.render(metadata);
      }
    } catch (error) {
      announce(`The details could not be loaded: ${error.message}`);
    }
  }

  /** The gallery index of the image shown (new images may have arrived in front of it meanwhile). */
  currentIndex() {
    const index = this.current ? this.gallery.indexOf(this.current.id) : -1;
    return index >= 0 ? index : this.index;
  }

  async move(delta) {
    const target = this.currentIndex() + delta;
    if (target >= this.gallery.items.length && this.gallery.nextCursor) {
      await this.gallery.loadMore();
    }
    if (target < 0 || target >= this.gallery.items.length) {
      announce(delta < 0 ? 'This is the newest image.' : 'This is the oldest image.');
      return;
    }
    await this.show(target);
  }

  render(item) {
    const img = byId('detail-img');
    img.alt = item.prompt || 'Image without a prompt';
    img.width = item.width;
    img.height = item.height;
    const path = item.links.image;
    imageUrl(path).then((url) => {
      if (this.current && this.current.id === item.id) {
        img.src = url;
        byId('detail-download').href = url;
      }
    }, () => {});
    byId('detail-download').download = `daguerre-${item.seed}.png`;
    byId('detail-title').textContent = 'Image details';
    const stored = item.request || {};
    const infotext = item.infotext_parameters || {};
    const rows = [
      ['Prompt', item.prompt],
      ['Negative prompt', item.negative_prompt || '—'],
      ['Model', item.model],
      ['Sampler', this.handlers.samplerName(item.sampler)],
      ['Steps', item.steps],
      ['Guidance', item.guidance_scale],
      ['Seed', item.seed],
      ['Size', `${item.width} × ${item.height}`],
      ['Model hash', infotext['Model hash'] || '—'],
      ['Clip skip', stored.clip_skip || infotext['Clip skip'] || 1],
      ['Created', formatDate(item.created_at)],
    ];
    if (stored.strength !== undefined) rows.push(['Strength (image to image)', stored.strength]);
    // every other field of the infotext, by its A1111 name (Denoising strength, Hires upscale, Mask blur, ...)
    const shown = new Set(['Steps', 'Sampler', 'CFG scale', 'Seed', 'Size', 'Model', ...rows.map(([name]) => name)]);
    rows.push(...Object.entries(infotext).filter(([name]) => !shown.has(name)));
    byId('detail-meta').replaceChildren(...rows.flatMap(([name, value]) => [
      el('dt', {}, name), el('dd', { dataset: { field: name.toLowerCase().replace(/\W+/g, '_') } }, String(value ?? '')),
    ]));
    const favorite = byId('detail-favorite');
    favorite.setAttribute('aria-pressed', String(Boolean(item.favorite)));
    favorite.textContent = item.favorite ? '★ Favourite' : '☆ Favourite';
    this.index = this.currentIndex();
    byId('detail-position').textContent = `${this.index + 1} of ${this.gallery.items.length}${this.gallery.nextCursor ? '+' : ''}`;
    byId('detail-prev').disabled = this.index <= 0;
    byId('detail-next').disabled = this.index >= this.gallery.items.length - 1 && !this.gallery.nextCursor;
  }

  /** Copies `text` to the clipboard and says so on the button `buttonId` for a moment. */
  async copy(buttonId, value, message) {
    const text = value || '';
    const button = byId(buttonId);
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      const area = el('textarea', { class: 'visually-hidden' }, text);
      this.dialog.append(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    button.textContent = 'Copied';
    announce(message);
    window.setTimeout(() => { button.textContent = label; }, 1500);
  }

  async toggleFavorite() {
    const item = this.current;
    try {
      const updated = await request('PATCH', `/api/v1/images/${encodeURIComponent(item.id)}`, { json: { favorite: !item.favorite } });
      this.current = { ...item, ...updated };
      this.gallery.update(updated);
      this.render(this.current);
      announce(updated.favorite ? 'Added to favourites.' : 'Removed from favourites.');
    } catch (error) {
      announce(`The favourite could not be saved: ${error.message}`);
    }
  }

  confirmDelete() {
    const confirm = byId('confirm-delete');
    confirm.returnValue = '';
    confirm.addEventListener('close', async () => {
      if (confirm.returnValue === 'delete') {
        await this.delete();
      } else {
        byId('detail-delete').focus();
      }
    }, { once: true });
    confirm.showModal();
  }

  async delete() {
    const item = this.current;
    try {
      await request('DELETE', `/api/v1/images/${encodeURIComponent(item.id)}`);
    } catch (error) {
      announce(`The image could not be deleted: ${error.message}`);
      return;
    }
    const index = this.currentIndex();
    this.current = null;
    this.gallery.remove(item.id);
    announce('The image is deleted.');
    if (this.gallery.items.length === 0) {
      this.dialog.close();
      return;
    }
    await this.show(Math.min(index, this.gallery.items.length - 1));
    byId('detail-delete').focus();
  }

  /** The request that made the image shown, for the form. */
  params() {
    const item = this.current;
    const asked = item.request || {};
    // the size asked for: a hires-fixed image is larger than its request's first pass
    return { ...asked, prompt: item.prompt, negative_prompt: item.negative_prompt, model: item.model,
      sampler: item.sampler, steps: item.steps, guidance_scale: item.guidance_scale, seed: item.seed,
      width: asked.hires_fix && asked.width ? asked.width : item.width, height: asked.hires_fix && asked.height ? asked.height : item.height };
  }

  reuse(what) {
    this.handlers.onReuse(this.params(), what);
    this.leaveForTheForm();
  }

  /** Fills the form with the image's parameters and makes the image its init image (at the image's own size, no hires fix). */
  async sendToImageToImage() {
    const item = this.current;
    let image;
    try {
      image = await readAsDataUrl(await (await fetch(await imageUrl(item.links.image))).blob());
    } catch (error) {
      announce(`The image could not be loaded: ${error.message}`);
      return;
    }
    const params = { ...this.params(), width: item.width, height: item.height };
    delete params.hires_fix;
    this.handlers.onSendToImageToImage(params, image);
    this.leaveForTheForm();
  }

  /** Closes the view and puts the focus on the prompt. */
  leaveForTheForm() {
    this.current = null;
    this.dialog.close();
    const prompt = byId('prompt');
    prompt.focus();
    prompt.scrollIntoView({ block: 'center' });
  }
}
