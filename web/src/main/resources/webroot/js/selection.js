/**
 * The gallery's Select mode: a click (or Space, Enter) on a thumbnail toggles it, Shift-click
 * selects the range from the last one clicked, "Select all shown" takes every loaded thumbnail;
 * the bar then favourites, unfavourites, moves to a board, downloads as one zip, or deletes
 * (after one confirmation) every selected image. Esc in the grid leaves the mode.
 */
import { request, requestBlob } from './api.js';
import { announce, el } from './dom.js';

const byId = (id) => document.getElementById(id);

export class Selection {
  /** @param {import('./gallery.js').Gallery} gallery */
  constructor(gallery) {
    this.gallery = gallery;
    this.active = false;
    this.ids = new Set();
    this.anchor = null;
    this.bar = byId('selection-bar');
    this.toggle = byId('select-mode');
    this.toggle.addEventListener('click', () => (this.active ? this.exit() : this.enter()));
    byId('select-all').addEventListener('click', () => this.selectAll());
    byId('select-none').addEventListener('click', () => this.clear());
    byId('bulk-favorite').addEventListener('click', () => this.apply('favorite'));
    byId('bulk-unfavorite').addEventListener('click', () => this.apply('unfavorite'));
    byId('bulk-move').addEventListener('click', () => this.apply('move', byId('bulk-board').value || null));
    byId('bulk-zip').addEventListener('click', () => this.downloadZip());
    byId('bulk-delete').addEventListener('click', () => this.confirmDelete());
    gallery.grid.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.active) {
        event.preventDefault();
        this.exit();
      }
    });
    this.setBoards([]);
  }

  /** The boards the selected images can be moved to. */
  setBoards(boards) {
    const select = byId('bulk-board');
    const chosen = select.value;
    select.replaceChildren(el('option', { value: '' }, 'No board'),
        ...boards.map((b) => el('option', { value: b.id, selected: b.id === chosen }, b.name)));
  }

  enter() {
    this.active = true;
    this.render();
    announce('Select mode: click or press Space on images to select them.');
  }

  exit() {
    this.active = false;
    this.showError(null);
    this.ids.clear();
    this.anchor = null;
    this.render();
  }

  /** A click on a thumbnail in Select mode: toggles it, or with Shift selects the range from the last one clicked. */
  click(id, range) {
    const items = this.gallery.items;
    const from = range && this.anchor ? items.findIndex((i) => i.id === this.anchor) : -1;
    const to = items.findIndex((i) => i.id === id);
    if (from >= 0 && to >= 0) {
      const [start, end] = from < to ? [from, to] : [to, from];
      items.slice(start, end + 1).forEach((item) => this.ids.add(item.id));
    } else if (this.ids.has(id)) {
      this.ids.delete(id);
    } else {
      this.ids.add(id);
    }
    this.anchor = id;
    this.render();
  }

  selectAll() {
    this.gallery.items.forEach((item) => this.ids.add(item.id));
    this.render();
  }

  clear() {
    this.ids.clear();
    this.anchor = null;
    this.render();
  }

  /** Forgets images that left the grid (deleted, filtered out, a reload). */
  forget(ids) {
    ids.forEach((id) => this.ids.delete(id));
    if (!this.ids.has(this.anchor)) {
      this.anchor = null;
    }
    this.render();
  }

  isSelected(id) {
    return this.active && this.ids.has(id);
  }

  render() {
    this.toggle.setAttribute('aria-pressed', String(this.active));
    this.toggle.textContent = this.active ? 'Done selecting' : 'Select';
    this.bar.hidden = !this.active;
    this.gallery.grid.classList.toggle('selecting', this.active);
    this.gallery.grid.setAttribute('aria-multiselectable', String(this.active));
    for (const [id, li] of this.gallery.tiles) {
      const button = li.querySelector('button');
      if (this.active) {
        button.setAttribute('aria-pressed', String(this.ids.has(id)));
      } else {
        button.removeAttribute('aria-pressed');
      }
    }
    const count = this.ids.size;
    byId('selection-count').textContent = `${count} selected`;
    for (const id of ['select-none', 'bulk-favorite', 'bulk-unfavorite', 'bulk-move', 'bulk-zip', 'bulk-delete']) {
      byId(id).disabled = count === 0;
    }
  }

  /** The selected ids in gallery order. */
  selected() {
    return this.gallery.items.map((item) => item.id).filter((id) => this.ids.has(id));
  }

  showError(message) {
    const error = byId('selection-error');
    error.textContent = message || '';
    error.hidden = !message;
  }

  /** Runs a bulk action on the selected images and shows its result in the grid. */
  async apply(action, board) {
    const ids = this.selected();
    if (ids.length === 0) {
      return;
    }
    this.showError(null);
    const body = action === 'move' ? { ids, action, board } : { ids, action };
    let answer;
    try {
      answer = await request('POST', '/api/v1/images/bulk', { json: body });
    } catch (error) {
      this.showError(`That did not work: ${error.message}`);
      return;
    }
    const change = { delete: null, favorite: { favorite: true }, unfavorite: { favorite: false }, move: { board } }[action];
    this.gallery.changed(ids, change);
    const images = `${answer.count} image${answer.count === 1 ? '' : 's'}`;
    announce({ delete: `${images} deleted.`, favorite: `${images} marked as favourites.`,
      unfavorite: `${images} no longer favourites.`, move: `${images} moved.` }[action]);
  }

  confirmDelete() {
    const count = this.ids.size;
    if (count === 0) {
      return;
    }
    const dialog = byId('confirm-bulk-delete');
    byId('confirm-bulk-delete-title').textContent = count === 1 ? 'Delete the selected image?' : `Delete the ${count} selected images?`;
    dialog.returnValue = '';
    dialog.addEventListener('close', () => {
      if (dialog.returnValue === 'delete') {
        this.apply('delete');
      }
    }, { once: true });
    dialog.showModal();
  }

  /** Downloads the selected images as one zip (made by the server as it sends it). */
  async downloadZip() {
    const ids = this.selected();
    if (ids.length === 0) {
      return;
    }
    const button = byId('bulk-zip');
    button.disabled = true;
    this.showError(null);
    announce(`Preparing a zip of ${ids.length} image${ids.length === 1 ? '' : 's'}…`);
    try {
      const blob = await requestBlob('POST', '/api/v1/images/zip', { json: { ids } });
      const url = URL.createObjectURL(blob);
      const link = el('a', { href: url, download: `daguerre-${ids.length}-images.zip`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      this.showError(`The zip could not be made: ${error.message}`);
    } finally {
      button.disabled = this.ids.size === 0;
    }
  }
}
