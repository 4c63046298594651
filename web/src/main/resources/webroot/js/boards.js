/**
 * The gallery's boards (named albums): a row of buttons that filter the gallery (all images, the
 * images on no board, or one board, each with its count), and New / Rename / Delete board. Deleting
 * a board keeps its images: they go back to no board.
 */
import { request } from './api.js';
import { announce, el } from './dom.js';

const byId = (id) => document.getElementById(id);

/** The board filter of the images on no board (the API's board=none). */
export const NO_BOARD = 'none';

export class Boards {
  /** @param {{onFilter: function(), onList: function(Array)}} handlers */
  constructor(handlers) {
    this.handlers = handlers;
    /** '' (all images), NO_BOARD, or a board id. */
    this.current = '';
    this.items = [];
    this.unboarded = 0;
    this.list = byId('board-list');
    this.dialog = byId('board-dialog');
    this.nameInput = byId('board-name');
    this.nameError = byId('board-name-error');
    this.renaming = null;
    byId('board-new').addEventListener('click', () => this.openDialog(null));
    byId('board-rename').addEventListener('click', () => this.openDialog(this.currentBoard()));
    byId('board-delete').addEventListener('click', () => this.confirmDelete());
    byId('board-cancel').addEventListener('click', () => this.dialog.close());
    byId('board-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.save();
    });
  }

  /** The board shown, or null (all images, or those on no board). */
  currentBoard() {
    return this.items.find((b) => b.id === this.current) || null;
  }

  /** Loads the boards and their counts; a board that is gone meanwhile stops being the filter. */
  async load() {
    let answer;
    try {
      answer = await request('GET', '/api/v1/boards');
    } catch (error) {
      announce(`The boards could not be loaded: ${error.message}`);
      return;
    }
    this.items = answer.items;
    this.unboarded = answer.unboarded_count;
    this.render();
    this.handlers.onList(this.items);
    if (this.current && this.current !== NO_BOARD && !this.currentBoard()) {
      this.select('');
    }
  }

  render() {
    const total = this.items.reduce((sum, b) => sum + b.image_count, this.unboarded);
    const chip = (value, name, count) => el('li', {}, el('button', {
      type: 'button', class: 'chip board', 'aria-pressed': String(this.current === value), dataset: { board: value },
      onclick: () => this.select(value),
    }, `${name} (${count})`));
    this.list.replaceChildren(chip('', 'All images', total), chip(NO_BOARD, 'No board', this.unboarded),
        ...this.items.map((b) => chip(b.id, b.name, b.image_count)));
    const board = this.currentBoard();
    byId('board-rename').hidden = !board;
    byId('board-delete').hidden = !board;
    if (board) {
      byId('board-rename').setAttribute('aria-label', `Rename board ${board.name}`);
      byId('board-delete').setAttribute('aria-label', `Delete board ${board.name}`);
    }
  }

  /** Shows the images of a board ('' for all, NO_BOARD for those on none). */
  select(value) {
    if (this.current === value) {
      return;
    }
    this.current = value;
    this.render();
    this.handlers.onFilter();
  }

  /** Opens the name dialog to make a board (board null) or rename one. */
  openDialog(board) {
    this.renaming = board;
    byId('board-dialog-title').textContent = board ? `Rename board “${board.name}”` : 'New board';
    this.nameInput.value = board ? board.name : '';
    this.showError(null);
    this.dialog.showModal();
    this.nameInput.focus();
    this.nameInput.select();
  }

  showError(message) {
    this.nameError.textContent = message || '';
    this.nameError.hidden = !message;
    this.nameInput.setAttribute('aria-invalid', String(Boolean(message)));
  }

  async save() {
    const name = this.nameInput.value.trim();
    if (!name) {
      this.showError('Give the board a name.');
      this.nameInput.focus();
      return;
    }
    const board = this.renaming;
    try {
      const saved = board
        ? await request('PATCH', `/api/v1/boards/${encodeURIComponent(board.id)}`, { json: { name } })
        : await request('POST', '/api/v1/boards', { json: { name } });
      this.dialog.close();
      announce(board ? `Board renamed to ${saved.name}.` : `Board ${saved.name} made.`);
    } catch (error) {
      this.showError(error.message);
      this.nameInput.focus();
      return;
    }
    await this.load();
  }

  confirmDelete() {
    const board = this.currentBoard();
    if (!board) {
      return;
    }
    const dialog = byId('confirm-board-delete');
    byId('confirm-board-delete-title').textContent = `Delete the board “${board.name}”?`;
    byId('confirm-board-delete-text').textContent = board.image_count === 0 ? 'It holds no images.'
      : `Its ${board.image_count === 1 ? 'image stays' : `${board.image_count} images stay`} in the gallery, on no board.`;
    dialog.returnValue = '';
    dialog.addEventListener('close', async () => {
      if (dialog.returnValue !== 'delete') {
        return;
      }
      try {
        await request('DELETE', `/api/v1/boards/${encodeURIComponent(board.id)}`);
        announce(`Board ${board.name} deleted; its images are on no board now.`);
      } catch (error) {
        announce(`The board could not be deleted: ${error.message}`);
      }
      await this.load();
    }, { once: true });
    dialog.showModal();
  }
}
