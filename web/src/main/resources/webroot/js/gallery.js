/**
 * The gallery: a grid of thumbnails, newest (or oldest) first, loading more pages as the end
 * scrolls into view; searched by prompt text and filtered by favourite, model, sampler, size,
 * date and board. New images are put in front as their jobs finish (at the end, oldest first).
 * Boards are boards.js, the Select mode and its bulk actions selection.js.
 */
import { imageUrl, forgetImage, request } from './api.js';
import { Boards, NO_BOARD } from './boards.js';
import { debounce, el } from './dom.js';
import { Selection } from './selection.js';

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
    this.sampler = document.getElementById('filter-sampler');
    this.size = document.getElementById('filter-size');
    this.from = document.getElementById('filter-from');
    this.to = document.getElementById('filter-to');
    this.sort = document.getElementById('sort');
    this.selection = new Selection(this);
    this.boards = new Boards({ onFilter: () => this.reload(), onList: (boards) => this.selection.setBoards(boards) });
    this.refreshCounts = debounce(() => this.loadFacets(), 300);
    const reload = debounce(() => this.reload(), 250);
    this.search.addEventListener('input', reload);
    this.search.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        this.reload();
      }
    });
    for (const control of [this.favorites, this.model, this.sampler, this.size, this.from, this.to, this.sort]) {
      control.addEventListener('change', () => this.reload());
    }
    this.loadSamplers();
    this.loadFacets();
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

  /** Lists the samplers in the sampler filter. */
  async loadSamplers() {
    try {
      const samplers = await request('GET', '/api/v1/samplers');
      this.sampler.replaceChildren(el('option', { value: '' }, 'All samplers'),
          ...samplers.items.map((s) => el('option', { value: s.name }, s.a1111_name || s.name)));
    } catch (e) {
      // the filter keeps "All samplers"; the generate form reports an unreachable server
    }
  }

  /** Loads the boards' counts and the sizes in the gallery (after images came or went). */
  async loadFacets() {
    this.boards.load();
    try {
      const sizes = await request('GET', '/api/v1/images/sizes');
      const chosen = this.size.value;
      const options = sizes.items.map((s) => `${s.width}x${s.height}`);
      if (chosen && !options.includes(chosen)) {
        options.push(chosen);
      }
      this.size.replaceChildren(el('option', { value: '' }, 'All sizes'),
          ...options.map((size) => el('option', { value: size, selected: size === chosen }, size.replace('x', '×'))));
    } catch (e) {
      // the filter keeps the sizes it had
    }
  }

  /** The filters as the page shows them. */
  filters() {
    const [width, height] = this.size.value ? this.size.value.split('x').map(Number) : [null, null];
    return {
      q: this.search.value.trim(), favorite: this.favorites.checked, model: this.model.value, sampler: this.sampler.value,
      width, height, from: this.from.value, to: this.to.value, board: this.boards.current, sort: this.sort.value,
    };
  }

  hasFilters() {
    const f = this.filters();
    return Boolean(f.q || f.favorite || f.model || f.sampler || f.width || f.from || f.to || f.board);
  }

  /** Starts again from the newest image with the current filters. */
  async reload() {
    this.generation++;
    this.selection.forget([...this.tiles.keys()]);
    this.items = [];
    this.tiles.clear();
    this.grid.setAttribute('aria-label', this.sort.value === 'oldest' ? 'Images, oldest first' : 'Images, newest first');
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
    const f = this.filters();
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (f.q) params.set('q', f.q);
    if (f.favorite) params.set('favorite', 'true');
    for (const name of ['model', 'sampler', 'width', 'height', 'board']) {
      if (f[name]) params.set(name, String(f[name]));
    }
    const [from, to] = dateRange(f);
    if (from !== null) params.set('from', new Date(from).toISOString());
    if (to !== null) params.set('to', new Date(to).toISOString());
    if (f.sort === 'oldest') params.set('sort', 'oldest');
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
    this.refreshCounts();
    if (this.items.length === 0 || this.sort.value === 'oldest') {
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
    for (const control of [this.model, this.sampler, this.size, this.from, this.to]) {
      control.value = '';
    }
    if (this.boards.current) {
      this.boards.select('');   // reloads
    } else {
      this.reload();
    }
  }

  /** Puts newly generated images in front (those that match the filters); oldest first, at the end once it is loaded. */
  async addImages(ids) {
    this.refreshCounts();
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
    const oldestFirst = this.sort.value === 'oldest';
    if (oldestFirst && this.nextCursor) {
      return;   // they come with the last page
    }
    for (const item of oldestFirst ? added : added.reverse()) {
      if (this.matches(item) && !this.tiles.has(item.id)) {
        if (oldestFirst) {
          this.items.push(item);
          this.grid.append(this.tile(item));
        } else {
          this.items.unshift(item);
          this.grid.prepend(this.tile(item));
        }
      }
    }
    this.updateStatus();
  }

  /** Whether an image passes the filters (as the server would answer). */
  matches(item) {
    const f = this.filters();
    if ((f.favorite && !item.favorite) || (f.model && item.model !== f.model) || (f.sampler && item.sampler !== f.sampler)
        || (f.width && (item.width !== f.width || item.height !== f.height))) {
      return false;
    }
    if ((f.board === NO_BOARD && item.board) || (f.board && f.board !== NO_BOARD && item.board !== f.board)) {
      return false;
    }
    const [from, to] = dateRange(f);
    const created = Date.parse(item.created_at);
    if ((from !== null && created < from) || (to !== null && created >= to)) {
      return false;
    }
    const text = `${item.prompt} ${item.negative_prompt || ''}`.toLowerCase();
    return f.q.toLowerCase().split(/\s+/).filter(Boolean).every((word) => text.includes(word));
  }

  /**
   * Shows a change made to images (a bulk action; change null for a delete): changed tiles are
   * redrawn, and those that no longer pass the filters leave the grid.
   */
  changed(ids, change) {
    for (const id of ids) {
      const index = this.indexOf(id);
      if (index < 0) {
        continue;
      }
      const item = change ? { ...this.items[index], ...change } : null;
      if (item && this.matches(item)) {
        this.update(item);
      } else {
        this.remove(id);
      }
    }
    this.selection.render();
    this.refreshCounts();
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
    this.selection.forget([id]);
    this.refreshCounts();
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
      'aria-pressed': this.selection.active ? String(this.selection.isSelected(item.id)) : null,
      onclick: (event) => (this.selection.active ? this.selection.click(item.id, event.shiftKey)
        : this.handlers.onOpen(this.indexOf(item.id))) },
      img,
      item.favorite ? el('span', { class: 'fav-badge', 'aria-hidden': 'true' }, '★') : null,
      item.favorite ? el('span', { class: 'visually-hidden' }, ' (favourite)') : null);
    const li = el('li', { dataset: { imageId: item.id } }, button);
    this.tiles.set(item.id, li);
    return li;
  }
}

/**
 * The date filters as epoch milliseconds [from, to): from the start of the From day to the end
 * of the To day, both in the browser's time zone; null where not set.
 */
function dateRange({ from, to }) {
  const midnight = (date, days) => {
    const [y, m, d] = date.split('-').map(Number);
    return new Date(y, m - 1, d + days).getTime();
  };
  return [from ? midnight(from, 0) : null, to ? midnight(to, 1) : null];
}
