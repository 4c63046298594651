/**
 * The Styles control of the generate form: saved prompt and negative-prompt snippets (A1111's
 * styles.csv on the server). "Apply to the prompt" writes the picked style into the prompt boxes at
 * once, as A1111's "apply styles" button does, so that what is queued is what the boxes show; apply
 * several one after another to combine them. Also: save the boxes as a style, delete one, import and
 * export styles.csv.
 */
import { request, requestBlob } from './api.js';
import { announce, el } from './dom.js';

const byId = (id) => document.getElementById(id);

/**
 * A1111's merge_prompts: a style text holding {prompt} has it replaced by the text typed; any other
 * is appended to it with ", " (the server applies a generation's `styles` by the same rule).
 */
export function mergePrompt(styleText, text) {
  if (styleText.includes('{prompt}')) {
    return styleText.replaceAll('{prompt}', text);
  }
  return [text.trim(), styleText.trim()].filter(Boolean).join(', ');
}

export class StylesControl {
  constructor() {
    this.styles = [];
    this.bind();
  }

  bind() {
    byId('style-picker').addEventListener('change', () => this.showSelected());
    byId('style-apply').addEventListener('click', () => this.apply());
    byId('style-delete').addEventListener('click', () => this.remove());
    byId('style-save').addEventListener('click', () => this.save());
    byId('style-name').addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.isComposing) {
        event.preventDefault(); // not the generate form's submission
        this.save();
      }
    });
    const file = byId('styles-file');
    file.addEventListener('change', () => {
      if (file.files.length) {
        this.importFile(file.files[0]);
      }
      file.value = '';
    });
    byId('styles-export').addEventListener('click', () => this.exportFile());
  }

  async load() {
    try {
      this.show((await request('GET', '/api/v1/styles')).items);
    } catch (error) {
      this.report(null, error.message);
    }
  }

  /** Lists `styles` in the picker, with `selected` picked (else the one picked before, if it is still there). */
  show(styles, selected = byId('style-picker').value) {
    this.styles = styles;
    const picker = byId('style-picker');
    picker.replaceChildren(el('option', { value: '' }, styles.length ? 'Pick a style…' : 'No styles yet'),
        ...styles.map((style) => el('option', { value: style.name, selected: style.name === selected }, style.name)));
    this.showSelected();
  }

  selected() {
    return this.styles.find((style) => style.name === byId('style-picker').value) || null;
  }

  showSelected() {
    const style = this.selected();
    byId('style-apply').disabled = !style;
    byId('style-delete').disabled = !style;
    const parts = style ? [style.prompt && `Prompt: ${style.prompt}`, style.negative_prompt && `Negative: ${style.negative_prompt}`] : [];
    byId('style-preview').textContent = parts.filter(Boolean).join(' · ');
  }

  /** A status (and no error), or an error (and no status). */
  report(status, error) {
    byId('styles-status').textContent = status || '';
    const box = byId('styles-error');
    box.textContent = error || '';
    box.hidden = !error;
  }

  apply() {
    const style = this.selected();
    if (!style) {
      return;
    }
    for (const [id, text] of [['prompt', style.prompt], ['negative_prompt', style.negative_prompt]]) {
      const box = byId(id);
      box.value = mergePrompt(text, box.value);
      box.dispatchEvent(new Event('input', { bubbles: true }));
    }
    this.report(`The style “${style.name}” is in the prompt.`);
    announce(`The style ${style.name} is applied to the prompt.`);
  }

  async save() {
    const name = byId('style-name').value.trim();
    const prompt = byId('prompt').value.trim();
    const negative = byId('negative_prompt').value.trim();
    if (!name) {
      this.report(null, 'Name the style first.');
      byId('style-name').focus();
      return;
    }
    if (!prompt && !negative) {
      this.report(null, 'Write a prompt or a negative prompt to save as a style.');
      byId('prompt').focus();
      return;
    }
    const replacing = this.styles.some((style) => style.name === name);
    if (replacing && !await this.confirm(`Replace the style “${name}”?`,
        'Its prompt and negative prompt become those of the form.', 'Replace')) {
      byId('style-save').focus();
      return;
    }
    try {
      await request('PUT', `/api/v1/styles/${encodeURIComponent(name)}`, { json: { prompt, negative_prompt: negative } });
      this.show((await request('GET', '/api/v1/styles')).items, name);
      byId('style-name').value = '';
      this.report(replacing ? `The style “${name}” is replaced.` : `The style “${name}” is saved.`);
    } catch (error) {
      this.report(null, `The style could not be saved: ${error.message}`);
    }
  }

  async remove() {
    const style = this.selected();
    if (!style || !await this.confirm(`Delete the style “${style.name}”?`,
        'It is removed from styles.csv; prompts it was applied to keep its text.', 'Delete')) {
      byId('style-delete').focus();
      return;
    }
    try {
      await request('DELETE', `/api/v1/styles/${encodeURIComponent(style.name)}`);
      this.show((await request('GET', '/api/v1/styles')).items, '');
      this.report(`The style “${style.name}” is deleted.`);
      byId('style-picker').focus();
    } catch (error) {
      this.report(null, `The style could not be deleted: ${error.message}`);
    }
  }

  async importFile(file) {
    const mode = byId('styles-replace').checked ? 'replace' : 'merge';
    try {
      // the file's bytes as they are: the server checks they are UTF-8
      const result = await request('POST', `/api/v1/styles/import?mode=${mode}`, { body: file, contentType: 'text/csv' });
      this.show(result.items);
      const count = result.imported === 1 ? '1 style' : `${result.imported} styles`;
      this.report(`${count} imported from ${file.name}${mode === 'replace' ? ', replacing the others' : ''}.`);
    } catch (error) {
      this.report(null, `${file.name} was not imported: ${error.message}`);
    }
  }

  async exportFile() {
    try {
      const url = URL.createObjectURL(await requestBlob('GET', '/api/v1/styles.csv'));
      const link = el('a', { href: url, download: 'styles.csv', hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10000);
      this.report('styles.csv is downloaded.');
    } catch (error) {
      this.report(null, `The styles could not be exported: ${error.message}`);
    }
  }

  /** Asks in the style confirmation dialog; resolves to whether the user confirmed. */
  confirm(title, text, okLabel) {
    const dialog = byId('confirm-style');
    byId('confirm-style-title').textContent = title;
    byId('confirm-style-text').textContent = text;
    byId('confirm-style-ok').textContent = okLabel;
    dialog.returnValue = '';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.showModal();
    });
  }
}
