/** Small DOM and formatting helpers shared by the views. */

/** Creates an element: el('button', {class: 'x', onclick: fn}, 'text', child). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

/** Reads a message to screen-reader users without moving focus. */
export function announce(message) {
  const announcer = document.getElementById('announcer');
  announcer.textContent = '';
  window.setTimeout(() => { announcer.textContent = message; }, 30);
}

/** "about 4 s", "about 2 min". */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '';
  }
  const seconds = Math.max(1, Math.round(ms / 1000));
  if (seconds < 90) {
    return `about ${seconds} s`;
  }
  const minutes = Math.round(seconds / 60);
  return minutes < 90 ? `about ${minutes} min` : `about ${Math.round(minutes / 60)} h`;
}

/** A local date and time for an ISO-8601 instant. */
export function formatDate(iso) {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** Calls fn at most once per `ms`, with the last arguments. */
export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
}

/** A random seed in [0, 2^32). */
export function randomSeed() {
  return window.crypto.getRandomValues(new Uint32Array(1))[0];
}

/** A Blob or File as a data: URL. */
export function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener('load', () => resolve(reader.result));
    reader.addEventListener('error', () => reject(reader.error || new Error('the file could not be read')));
    reader.readAsDataURL(blob);
  });
}
