/**
 * The native API client: JSON requests with the API key when the server wants one, errors as
 * ApiError {status, code, message, field}, and image URLs that work with or without a key.
 */

const KEY_STORAGE = 'daguerre.apiKey';

/** An error answered by the server (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

let pendingKeyPrompt = null;
const imageUrls = new Map();

/** The API key for this browser session, or null. */
export function apiKey() {
  return window.sessionStorage.getItem(KEY_STORAGE);
}

function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/**
 * Sends a request and returns the JSON answer (null for an empty one; its bytes as a Blob with `blob`). A 401
 * asks the user for an API key once (concurrent requests share the prompt) and tries again.
 */
export async function request(method, path, options = {}) {
  const response = await send(method, path, options, 'application/json');
  if (response.status === 204) {
    return null;
  }
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** Sends a request, as request() does, and returns the answer's body as a Blob (a zip download). */
export async function requestBlob(method, path, options = {}) {
  return (await send(method, path, options, '*/*')).blob();
}

/** The successful Response of a request; errors as ApiError, a 401 after asking for a key (see request()). */
async function send(method, path, { json, body, contentType } = {}, accept) {
  for (;;) {
    const headers = { Accept: accept, ...authHeaders() };
    let payload = body;
    if (json !== undefined) {
      payload = JSON.stringify(json);
      headers['Content-Type'] = 'application/json';
    } else if (body !== undefined) {
      headers['Content-Type'] = contentType || 'text/plain; charset=utf-8';
    }
    let response;
    try {
      response = await fetch(path, { method, headers, body: payload });
    } catch (e) {
      throw new ApiError(0, 'network', 'The server cannot be reached. Is it running?', null);
    }
    if (response.status === 401) {
      const error = await readError(response);
      await askForKey(apiKey() ? 'That API key was not accepted. Try again.' : error.message);
      continue;
    }
    if (!response.ok) {
      throw await readError(response);
    }
    return response;
  }
}

async function readError(response) {
  let code = 'http_' + response.status;
  let message = `The server answered ${response.status} ${response.statusText}`.trim();
  let field = null;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
      field = body.error.field || null;
    }
    if (body && typeof body.error === 'string' && typeof body.detail === 'string') {
      message = body.detail; // an A1111-compatible route's {error, detail, body, errors}
    }
  } catch (e) {
    // not JSON: keep the status line
  }
  if (response.status === 429) {
    const retry = response.headers.get('Retry-After');
    message += retry ? ` (try again in ${retry} s)` : '';
  }
  return new ApiError(response.status, code, message, field);
}

/** Shows the API key dialog until a key is entered; resolves once it is stored. */
export function askForKey(message) {
  if (pendingKeyPrompt) {
    return pendingKeyPrompt;
  }
  const dialog = document.getElementById('api-key-dialog');
  const input = document.getElementById('api-key');
  document.getElementById('api-key-message').textContent =
      (message ? message + ' ' : '') + 'The key is kept only for this browser session.';
  pendingKeyPrompt = new Promise((resolve) => {
    const submitted = (event) => {
      const key = input.value.trim();
      if (!key) {
        event.preventDefault();
        input.focus();
        return;
      }
      window.sessionStorage.setItem(KEY_STORAGE, key);
      imageUrls.clear();
      dialog.removeEventListener('close', closed);
      document.getElementById('api-key-form').removeEventListener('submit', submitted);
      pendingKeyPrompt = null;
      resolve();
    };
    const closed = () => {
      // Esc closes a dialog: without a key nothing works, so ask again.
      if (pendingKeyPrompt) {
        dialog.showModal();
      }
    };
    document.getElementById('api-key-form').addEventListener('submit', submitted);
    dialog.addEventListener('close', closed);
    input.value = '';
    dialog.showModal();
    input.focus();
  });
  return pendingKeyPrompt;
}

/**
 * A URL an <img> or a download link can use for an API image path. Without a key it is the path
 * itself; with one, the image is fetched with the key and given as a blob URL.
 */
export async function imageUrl(path) {
  if (!apiKey()) {
    return path;
  }
  if (!imageUrls.has(path)) {
    imageUrls.set(path, (async () => {
      const response = await fetch(path, { headers: authHeaders() });
      if (response.status === 401) {
        imageUrls.delete(path);
        await askForKey('That API key was not accepted. Try again.');
        return imageUrl(path);
      }
      if (!response.ok) {
        imageUrls.delete(path);
        throw new ApiError(response.status, 'image', `Image ${path} could not be loaded (${response.status})`, null);
      }
      return URL.createObjectURL(await response.blob());
    })());
  }
  return imageUrls.get(path);
}

/** Forgets a cached image URL (after a delete). */
export function forgetImage(path) {
  const cached = imageUrls.get(path);
  imageUrls.delete(path);
  if (cached) {
    cached.then((url) => { if (url.startsWith('blob:')) URL.revokeObjectURL(url); }, () => {});
  }
}

/** The WebSocket URL of the event stream, with the key as a query parameter when there is one. */
export function eventsUrl() {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const key = apiKey();
  return `${scheme}//${window.location.host}/api/v1/ws` + (key ? `?api_key=${encodeURIComponent(key)}` : '');
}
