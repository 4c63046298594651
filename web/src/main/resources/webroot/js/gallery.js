/**
 * The gallery: a grid of thumbnails, newest first, loading more pages as the end scrolls into
 * view; searched by prompt text and filtered by favourite and model. New images are put in
 * front as their jobs finish.
 */
import { imageUrl, forgetImage, request } from './api.js';
import { debounce, el } from './dom.js';

const PAGE_SIZE = 30;
const PRELOAD_MARGIN_PX = 600;

export class Gallery {
  /** @param {{onOpen: function(number)}} handlers */
  constructor(handlers) {
    this.handlers = handlers;
    this.items = [];
    this.tiles = new Map();
    this.nextCursor = null;
    this.loading = false;
    this.generation = 0;
    this.grid = document.getElementById('gallery-grid');
    this.sentinel = document.getElementById('gallery-sentinel');
    this.status = document.getElementById('gallery-status');
    this.empty = document.getElementById('gallery-empty');
    this.search = document.getElementById('search');
    this.favorites = document.getElementById('filter-favorites');
    this.model = document.getElementById('filter-model');
    const reload = debounce(() => this.reload(), 250);
    this.search.addEventListener('input', reload);
    this.search.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        this.reload();
      }
    });
    this.favorites.addEventListener('change', () => this.reload());
    this.model.addEventListener('change', () => this.reload());
    new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) {
        this.loadMore();
      }
    }, { rootMargin: `${PRELOAD_MARGIN_PX}px` }).observe(this.sentinel);
  }

  /** Lists the models in the model filter. */
  setModels(models) {
    this.model.replaceChildren(el('option', { value: '' }, 'All models'),
        ...models.map((m) => el('option', { value: m.id }, m.name || m.id)));
  }

  filters() {
    return { q: this.search.value.trim(), favorite: this.favorites.checked, model: this.model.value };
  }

  hasFilters() {
    const f = this.filters();
    return Boolean(f.q || f.favorite || f.model);
  }

  /** Starts again from the newest image with the current filters. */
  async reload() {
    this.generation++;
    this.items = [];
    this.tiles.clear();
    this.grid.replaceChildren();
    this.empty.hidden = true;
    this.nextCursor = null;
    this.loading = false;
    await this.fetchPage(null);
  }

  async loadMore() {
    if (this.nextCursor && !this.loading) {
      await this.fetchPage(this.nextCursor);
    }
  }

  /** The query string of a page with the current filters. */
  query(cursor) {
    const { q, favorite, model } = this.filters();
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (q) params.set('q', q);
    if (favorite) params.set('favorite', 'true');
    if (model) params.set('model', model);
    if (cursor) params.set('cursor', cursor);
    return params;
  }

  async fetchPage(cursor) {
    const generation = this.generation;
    this.loading = true;
    this.status.textContent = 'Loading images…';
    try {
      const page = await request('GET', `/api/v1/images?${this.query(cursor)}`);
      if (generation !== this.generation) {
        return;
      }
      this.nextCursor = page.next_cursor;
      for (const item of page.items) {
        if (!this.tiles.has(item.id)) {
          this.items.push(item);
          this.grid.append(this.tile(item));
        }
      }
    } catch (error) {
      if (generation === this.generation) {
        this.status.textContent = `The gallery could not be loaded: ${error.message}`;
      }
      return;
    } finally {
      if (generation === this.generation) {
        this.loading = false;
      }
    }
    this.updateStatus();
    const rect = this.sentinel.getBoundingClientRect();
    if (this.nextCursor && rect.top < window.innerHeight + PRELOAD_MARGIN_PX) {
      this.loadMore();
    }
  }

  updateStatus() {
    const count = this.items.length;
    this.status.textContent = this.nextCursor ? '' : count === 0 ? '' : `${count} image${count === 1 ? '' : 's'}`;
    this.empty.hidden = count > 0 || this.loading;
    if (count === 0) {
      this.empty.replaceChildren(...(this.hasFilters()
        ? [el('p', {}, 'No image matches these filters.'),
          el('button', { type: 'button', onclick: () => this.clearFilters() }, 'Show all images')]
        : [el('p', { class: 'empty-title' }, 'No images yet'),
          el('p', {}, 'Write a prompt in the Generate form, or click one of its examples, then press Enter or Generate. '
              + 'Your images appear here as soon as they are done.')]));
    }
  }

  /** Puts in front the images made while the event stream was down (newer than the newest one shown). */
  async catchUp() {
    if (this.items.length === 0) {
      await this.reload();
      return;
    }
    const generation = this.generation;
    const newest = Date.parse(this.items[0].created_at);
    let page;
    try {
      page = await request('GET', `/api/v1/images?${this.query(null)}`);
    } catch (e) {
      return;
    }
    if (generation !== this.generation) {
      return;
    }
    const fresh = page.items.filter((item) => !this.tiles.has(item.id) && Date.parse(item.created_at) >= newest);
    for (const item of fresh.reverse()) {
      this.items.unshift(item);
      this.grid.prepend(this.tile(item));
    }
    this.updateStatus();
  }

  clearFilters() {
    this.search.value = '';
    this.favorites.checked = false;
    this.model.value = '';
    this.reload();
  }

  /** Puts newly generated images in front (those that match the filters). */
  async addImages(ids) {
    const generation = this.generation;
    const added = [];
    for (const id of ids) {
      if (this.tiles.has(id)) {
        continue;
      }
      try {
        added.push(await request('GET', `/api/v1/images/${encodeURIComponent(id)}/metadata`));
      } catch (e) {
        // deleted meanwhile
      }
    }
    if (generation !== this.generation) {
      return;
    }
    for (const item of added.reverse()) {
      if (this.matches(item) && !this.tiles.has(item.id)) {
        this.items.unshift(item);
        this.grid.prepend(this.tile(item));
      }
    }
    this.updateStatus();
  }

  matches(item) {
    const { q, favorite, model } = this.filters();
    if ((favorite && !item.favorite) || (model && item.model !== model)) {
      return false;
    }
    const text = `${item.prompt} ${item.negative_prompt || ''}`.toLowerCase();
    return q.toLowerCase().split(/\s+/).filter(Boolean).every((word) => text.includes(word));
  }

  /** Replaces an item (after a favourite change). */
  update(item) {
    const index = this.items.findIndex((i) => i.id === item.id);
    if (index < 0) {
      return;
    }
    this.items[index] = { ...this.items[index], ...item };
    const old = this.tiles.get(item.id);
    old.replaceWith(this.tile(this.items[index]));
  }

  /** Takes a deleted image out. */
  remove(id) {
    this.items = this.items.filter((i) => i.id !== id);
    this.tiles.get(id)?.remove();
    this.tiles.delete(id);
    forgetImage(`/api/v1/images/${id}`);
    forgetImage(`/api/v1/images/${id}/thumbnail`);
    this.updateStatus();
  }

  indexOf(id) {
    return this.items.findIndex((i) => i.id === id);
  }

  /** Focuses the tile of an image (after the detail view closes). */
  focus(id) {
    this.tiles.get(id)?.querySelector('button')?.focus();
  }

  tile(item) {
    const img = el('img', { alt: item.prompt || 'Image without a prompt', width: item.width, height: item.height, loading: 'lazy',
      decoding: 'async' });
    imageUrl(item.links.thumbnail).then((url) => { img.src = url; }, () => { img.alt = `${img.alt} (not available)`; });
    const button = el('button', { type: 'button', class: 'tile', dataset: { imageId: item.id },
      onclick: () => this.handlers.onOpen(this.indexOf(item.id)) },
      img,
      item.favorite ? el('span', { class: 'fav-badge', 'aria-hidden': 'true' }, '★') : null,
      item.favorite ? el('span', { class: 'visually-hidden' }, ' (favourite)') : null);
    const li = el('li', { dataset: { imageId: item.id } }, button);
    this.tiles.set(item.id, li);
    return li;
  }
}
