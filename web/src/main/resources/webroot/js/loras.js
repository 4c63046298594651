/**
 * The LoRA picker: the server's LoRA folder (/api/v1/loras) as a list beside the prompt; picking one
 * inserts A1111's <lora:name:1> tag at the prompt's cursor, where the weight can then be edited.
 */
import { request } from './api.js';
import { el } from './dom.js';

/** Fills the picker; it stays hidden when the server has no LoRAs (or cannot list them). */
export async function loadLoraPicker() {
  const section = document.getElementById('loras');
  const picker = document.getElementById('lora-picker');
  let items = [];
  try {
    items = (await request('GET', '/api/v1/loras')).items;
  } catch (error) {
    items = [];
  }
  picker.replaceChildren(el('option', { value: '' }, 'Add a LoRA…'),
      ...items.map((lora) => el('option', { value: lora.name }, lora.name)));
  section.hidden = items.length === 0;
  picker.addEventListener('change', () => {
    if (picker.value) {
      insertAtCursor(document.getElementById('prompt'), `<lora:${picker.value}:1>`);
      picker.value = '';
    }
  });
}

/** Inserts {@code text} at the textarea's cursor, spaced from its neighbours, and leaves the cursor after it. */
function insertAtCursor(textarea, text) {
  const value = textarea.value;
  const at = textarea.selectionStart ?? value.length;
  const end = textarea.selectionEnd ?? at;
  const before = value.slice(0, at);
  const after = value.slice(end);
  const inserted = (before && !/\s$/.test(before) ? ' ' : '') + text + (after && !/^\s/.test(after) ? ' ' : '');
  textarea.value = before + inserted + after;
  const cursor = before.length + inserted.length;
  textarea.setSelectionRange(cursor, cursor);
  textarea.focus();
  textarea.dispatchEvent(new Event('input', { bubbles: true }));
}
