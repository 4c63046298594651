/**
 * The prompt history: the server's distinct recent prompts (GET /api/v1/prompts, from every job it has
 * run, so it is the same in every browser), newest first and searchable; one click puts a prompt and
 * its negative prompt back in the form.
 */
import { request } from './api.js';
import { debounce, el } from './dom.js';

const SHOWN = 50;
const byId = (id) => document.getElementById(id);

export class PromptHistory {
  /** @param {{onPick: function({prompt: string, negative_prompt: string})}} handlers onPick gets the chosen entry */
  constructor(handlers) {
    this.handlers = handlers;
    this.dialog = byId('prompt-history');
    this.search = byId('prompt-history-search');
    this.list = byId('prompt-history-list');
    this.status = byId('prompt-history-status');
    this.opener = byId('prompt-history-button');
    this.asked = 0;
    this.opener.addEventListener('click', () => this.open());
    byId('prompt-history-close').addEventListener('click', () => this.dialog.close());
    this.search.addEventListener('input', debounce(() => this.load(), 200));
    this.search.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowDown') {
        event.preventDefault();
        this.list.querySelector('button')?.focus();
      }
    });
    this.list.addEventListener('keydown', (event) => this.moveFocus(event));
  }

  open() {
    this.search.value = '';
    this.dialog.showModal();
    this.search.focus();
    this.load();
  }

  /** Fetches the entries that match the search; answers to older searches are dropped. */
  async load() {
    const query = this.search.value.trim();
    const asked = ++this.asked;
    let answer;
    try {
      answer = await request('GET', `/api/v1/prompts?limit=${SHOWN}&q=${encodeURIComponent(query)}`);
    } catch (error) {
      if (asked === this.asked) {
        this.list.replaceChildren();
        this.status.textContent = error.status === 404 ? 'This server keeps no prompt history.' : error.message;
      }
      return;
    }
    if (asked !== this.asked) {
      return;
    }
    const items = answer.items;
    this.list.replaceChildren(...items.map((entry) => el('li', {}, el('button', {
      type: 'button',
      class: 'prompt-entry',
      onclick: () => this.pick(entry),
    }, el('span', { class: 'prompt-entry-text' }, entry.prompt),
    entry.negative_prompt ? el('span', { class: 'prompt-entry-negative' }, `Negative: ${entry.negative_prompt}`) : null))));
    if (items.length === 0) {
      this.status.textContent = query ? `No prompt contains “${query}”.` : 'No prompts yet: generate something first.';
    } else {
      this.status.textContent = `${items.length} ${items.length === 1 ? 'prompt' : 'prompts'}${query ? ` with “${query}”` : ''}, most recent first.`;
    }
  }

  pick(entry) {
    this.dialog.close();
    this.handlers.onPick(entry);
  }

  /** Up and down move between the entries; up from the first goes back to the search box. */
  moveFocus(event) {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') {
      return;
    }
    const buttons = [...this.list.querySelectorAll('button')];
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) {
      return;
    }
    event.preventDefault();
    const next = index + (event.key === 'ArrowDown' ? 1 : -1);
    (next < 0 ? this.search : buttons[Math.min(next, buttons.length - 1)]).focus();
  }
}
