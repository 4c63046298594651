/**
 * The queue: every job the server has waiting or running, with its position, size, steps, sampler,
 * model and seed, a live progress bar (step count and ETA), the latest preview and a cancel button,
 * and a large live preview of the running job (its progress also in the tab's title). Finished jobs
 * hand their images to the gallery and move to the recent jobs; failed ones stay with their error
 * until dismissed. A finished job can run again, with its seed or a new one.
 */
import { ApiError, request } from './api.js';
import { announce, el, formatDuration } from './dom.js';

const CANCELLED_LINGER_MS = 6000;
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);
const RECENT_JOBS = 20;
const TITLE = 'Daguerre';

export class Queue {
  /**
   * @param {{onImages: function(string[]), samplerName: function(string): string}} handlers onImages gets the image
   *     ids of each finished job; samplerName gives a sampler's display name
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.jobs = new Map();
    /** Finished jobs, newest first (the server's recent ones and those this page saw finish). */
    this.recent = [];
    // Events count up; a job remembers the count at its last event, so that an answer to a request
    // sent before that event (older news) does not undo what the event said.
    this.eventCount = 0;
    this.panel = document.getElementById('queue-panel');
    this.historyPanel = document.getElementById('history-panel');
    this.historyCount = document.getElementById('history-count');
    const samplerName = handlers.samplerName || ((name) => name);
    const onAction = (action, job) => this.act(action, job);
    this.rows = new JobRows({ list: document.getElementById('queue'), samplerName, onAction });
    this.historyRows = new JobRows({ list: document.getElementById('history'), samplerName, onAction });
    this.live = new LivePreview();
  }

  /** Posts a generation request; the job joins the list. Throws the server's ApiError. */
  async submit(requestBody) {
    return this.accept(() => request('POST', '/api/v1/generations', { json: requestBody }), requestBody);
  }

  /** Queues a finished job's request again, with its seed or (newSeed) a random one. */
  async rerun(job, newSeed) {
    const short = shorten(job.request.prompt, 40);
    try {
      const path = `/api/v1/jobs/${encodeURIComponent(job.id)}/rerun`;
      const { request: stored } = job;
      const accepted = await this.accept(() => request('POST', path, { json: newSeed ? { seed: -1 } : {} }), stored);
      announce(`“${short}” is queued again with seed ${accepted.seed}.`);
    } catch (error) {
      announce(`Cannot run “${short}” again: ${error.message}`);
    }
  }

  /** Sends a request that queues a job; the job joins the list with `requestBody` and the seed the server chose. */
  async accept(send, requestBody) {
    const since = this.eventCount;
    const job = await send();
    const known = { ...requestBody, seed: job.seed ?? requestBody.seed };
    this.snapshot({ id: job.id, status: job.status, position: job.position, request: known }, since);
    return job;
  }

  /** A row's button: cancel, dismiss, run again or run again with a new seed. */
  act(action, job) {
    const current = this.jobs.get(job.id);
    if (action === 'cancel' && current && !FINAL.has(current.status)) {
      this.cancel(job.id);
    } else if (action === 'dismiss') {
      this.remove(job.id);
    } else if (action === 'again' || action === 'new-seed') {
      this.rerun(job, action === 'new-seed');
    }
  }

  /** Applies a job's state as answered by a request sent when the event count was `since`. */
  snapshot(update, since) {
    const known = this.jobs.get(update.id);
    if (known && known.lastEvent > since) {
      this.upsert({ id: update.id, request: update.request });
    } else {
      this.upsert(update);
    }
  }

  /** Replaces the list with the server's active jobs; jobs that left it are looked up one by one. */
  async resync() {
    let answer;
    const since = this.eventCount;
    try {
      answer = await request('GET', '/api/v1/jobs');
    } catch (e) {
      return;
    }
    const active = new Set(answer.items.map((job) => job.id));
    const seen = new Set(this.recent.map((job) => job.id));
    this.recent = [...this.recent, ...(answer.recent || []).filter((job) => !seen.has(job.id) && !this.jobs.has(job.id))
        .map((job) => ({ ...fromServer(job), past: true }))]
        .sort((a, b) => (Date.parse(b.finishedAt) || 0) - (Date.parse(a.finishedAt) || 0)).slice(0, RECENT_JOBS);
    this.render();
    for (const job of answer.items) {
      this.snapshot(fromServer(job), since);
    }
    for (const job of [...this.jobs.values()]) {
      if (!active.has(job.id) && !FINAL.has(job.status)) {
        await this.refresh(job.id);
      }
    }
  }

  /** Fetches one job and applies its state (used for jobs first seen through an event). */
  async refresh(id) {
    const since = this.eventCount;
    try {
      const job = await request('GET', `/api/v1/jobs/${encodeURIComponent(id)}`);
      this.snapshot(fromServer(job), since);
      if (FINAL.has(job.status)) {
        this.finish(id, job.status, { images: job.images, error: job.error });
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        this.remove(id);
      }
    }
  }

  /** Applies one event from the stream. */
  handle({ job_id: id, event, data }) {
    this.eventCount++;
    if (!this.jobs.has(id) && !FINAL.has(event)) {
      this.jobs.set(id, { id, status: 'queued', request: null, lastEvent: this.eventCount });
      this.refresh(id);
    }
    const job = this.jobs.get(id);
    if (!job) {
      // A job this page never saw (another client's, or one that finished while disconnected).
      if (event === 'succeeded') {
        this.handlers.onImages(data.images || []);
      }
      return;
    }
    job.lastEvent = this.eventCount;
    switch (event) {
      case 'queued':
        this.upsert({ id, status: 'queued', position: data.position, etaMs: data.eta_ms });
        break;
      case 'running':
        this.upsert({ id, status: 'running', position: 0, step: 0, total: data.total, etaMs: null });
        break;
      case 'progress':
        this.upsert({ id, status: 'running', position: 0, step: data.step, total: data.total, etaMs: data.eta_ms });
        break;
      case 'preview':
        this.upsert({ id, preview: `data:image/png;base64,${data.png}` });
        break;
      default:
        if (FINAL.has(event)) {
          this.finish(id, event, data);
        }
    }
  }

  finish(id, status, data) {
    const job = this.jobs.get(id);
    if (!job || job.finished) {
      return;
    }
    job.finished = true;
    const prompt = job.request ? `“${shorten(job.request.prompt, 40)}”` : 'A job';
    if (status === 'succeeded') {
      this.handlers.onImages(data.images || []);
      announce(`${prompt} is done.`);
      job.status = status;
      job.images = data.images || [];
      this.remove(id);
      return;
    }
    this.upsert({ id, status, error: data.error || null });
    if (status === 'cancelled') {
      announce(`${prompt} was cancelled.`);
      window.setTimeout(() => this.remove(id), CANCELLED_LINGER_MS);
    } else {
      announce(`${prompt} failed: ${data.error ? data.error.message : 'unknown error'}`);
    }
  }

  upsert(update) {
    const previous = this.jobs.get(update.id);
    if ((!previous && !update.status) || (previous && previous.finished && !FINAL.has(update.status))) {
      return; // news about a job that has left the list
    }
    const job = { ...(previous || { id: update.id }) };
    for (const [key, value] of Object.entries(update)) {
      if (value !== undefined && !(key === 'request' && value === null && job.request)) {
        job[key] = value;
      }
    }
    this.jobs.set(job.id, job);
    this.render();
  }

  /** Takes a job off the queue; a finished one goes to the top of the recent jobs. */
  remove(id) {
    const job = this.jobs.get(id);
    this.jobs.delete(id);
    if (job && FINAL.has(job.status)) {
      const finished = { ...job, past: true, preview: null, finishedAt: job.finishedAt || new Date().toISOString() };
      this.recent = [finished, ...this.recent.filter((other) => other.id !== id)].slice(0, RECENT_JOBS);
    }
    this.render();
  }

  async cancel(id) {
    try {
      await request('POST', `/api/v1/jobs/${encodeURIComponent(id)}/cancel`);
      this.upsert({ id, cancelling: true });
    } catch (error) {
      announce(`Cannot cancel: ${error.message}`);
      if (error instanceof ApiError && error.status === 409) {
        this.refresh(id);
      }
    }
  }

  render() {
    const order = (job) => (job.status === 'running' ? 0 : job.status === 'queued' ? 1 : 2);
    const jobs = [...this.jobs.values()].sort((a, b) => order(a) - order(b) || (a.position ?? 1e9) - (b.position ?? 1e9));
    this.rows.render(jobs);
    this.panel.hidden = jobs.length === 0;
    const live = jobs.find((job) => job.status === 'running') || null;
    this.live.show(live);
    document.title = live && live.total ? `[${percent(live)}%] ${TITLE}` : TITLE;
    this.historyRows.render(this.recent);
    this.historyPanel.hidden = this.recent.length === 0;
    this.historyCount.textContent = `(${this.recent.length})`;
  }
}

/**
 * A list of job rows, each made once and then updated in place, so that a focused button keeps its focus
 * while progress comes in.
 */
class JobRows {
  /** @param {{list: Element, samplerName: function(string): string, onAction: function(string, object)}} options */
  constructor({ list, samplerName, onAction }) {
    this.list = list;
    this.samplerName = samplerName;
    this.onAction = onAction;
    this.views = new Map();
  }

  render(jobs) {
    const ids = new Set(jobs.map((job) => job.id));
    for (const [id, view] of this.views) {
      if (!ids.has(id)) {
        view.li.remove();
        this.views.delete(id);
      }
    }
    const items = jobs.map((job) => this.update(job));
    // Moves only what is out of place, so that a focused button keeps its focus.
    items.forEach((li, index) => {
      if (this.list.children[index] !== li) {
        this.list.insertBefore(li, this.list.children[index] || null);
      }
    });
  }

  update(job) {
    let view = this.views.get(job.id);
    if (!view) {
      const button = (action, text) => el('button', { type: 'button', class: 'small', dataset: { action },
        onclick: () => this.onAction(action, this.views.get(job.id).job) }, text);
      view = {
        preview: el('div', { class: 'job-preview' }),
        prompt: el('p', { class: 'job-prompt' }),
        meta: el('p', { class: 'job-meta' }),
        progress: el('progress', { max: 1 }),
        status: el('p', { class: 'job-status' }),
        cancel: button('cancel', 'Cancel'),
        again: button('again', 'Run again'),
        newSeed: button('new-seed', 'New seed'),
        dismiss: button('dismiss', 'Dismiss'),
      };
      view.li = el('li', { class: 'job', dataset: { jobId: job.id } }, view.preview,
          el('div', { class: 'job-body' }, view.prompt, view.meta, view.progress, view.status),
          el('div', { class: 'job-actions' }, view.cancel, view.again, view.newSeed, view.dismiss));
      this.views.set(job.id, view);
    }
    view.job = job;
    const prompt = job.request ? job.request.prompt : '…';
    const short = shorten(prompt, 60);
    const active = job.status === 'queued' || job.status === 'running';
    const total = job.total || (job.request && job.request.steps) || 0;
    const step = job.step || 0;
    view.li.className = `job ${job.status}${job.past ? ' past' : ''}`;
    view.li.dataset.status = job.status;
    view.prompt.textContent = prompt + (job.request && job.request.n > 1 ? ` · ${job.request.n} images` : '');
    view.prompt.title = prompt;
    view.meta.textContent = job.request ? describe(job.request, this.samplerName) : '';
    view.progress.hidden = job.status !== 'running';
    view.progress.max = total || 1;
    view.progress.setAttribute('aria-label', `Progress of “${short}”`);
    if (job.status === 'running') {
      view.progress.value = step;
    } else {
      view.progress.removeAttribute('value');
    }
    view.status.textContent = statusText(job, step, total);
    view.status.setAttribute('role', job.status === 'failed' && !job.past ? 'alert' : 'status');
    if (job.preview) {
      const img = view.preview.querySelector('img') || view.preview.appendChild(el('img', { alt: '' }));
      img.src = job.preview;
      img.alt = `Preview of “${short}”`;
    }
    view.preview.hidden = Boolean(job.past);
    view.cancel.hidden = !active;
    view.cancel.textContent = job.cancelling ? 'Cancelling…' : 'Cancel';
    view.cancel.disabled = Boolean(job.cancelling);
    view.cancel.setAttribute('aria-label', `Cancel “${short}”`);
    // A job that has finished can run again, once its request is known.
    const rerunnable = !active && Boolean(job.request);
    view.again.hidden = !rerunnable;
    view.again.setAttribute('aria-label', `Run “${short}” again`);
    view.again.title = 'Run again: the same parameters and seed';
    view.newSeed.hidden = !rerunnable;
    view.newSeed.setAttribute('aria-label', `Run “${short}” again with a new seed`);
    view.newSeed.title = 'Run again with a new seed';
    view.dismiss.hidden = active || Boolean(job.past);
    view.dismiss.setAttribute('aria-label', `Dismiss “${short}”`);
    return view.li;
  }
}

/**
 * The large preview of the running job: its latest preview image at the job's aspect ratio, its prompt,
 * a progress bar, the step, the percentage and the time left.
 */
class LivePreview {
  constructor() {
    this.figure = document.getElementById('live');
    this.frame = document.getElementById('live-frame');
    this.image = document.getElementById('live-image');
    this.prompt = document.getElementById('live-prompt');
    this.progress = document.getElementById('live-progress');
    this.status = document.getElementById('live-status');
    this.jobId = null;
  }

  /** Shows a running job, or hides the preview when null. */
  show(job) {
    this.figure.hidden = !job;
    if (!job) {
      this.jobId = null;
      return;
    }
    const request = job.request || {};
    if (job.id !== this.jobId) {
      this.jobId = job.id;
      this.figure.dataset.jobId = job.id;
      this.image.hidden = true;
      this.image.removeAttribute('src');
    }
    const width = request.width || 1;
    const height = request.height || 1;
    this.frame.style.setProperty('--ratio', String(width / height));
    const short = shorten(request.prompt || '', 60);
    if (job.preview && this.image.getAttribute('src') !== job.preview) {
      this.image.src = job.preview;
      this.image.hidden = false;
    }
    this.image.alt = `Live preview of “${short}”`;
    this.prompt.textContent = request.prompt || '…';
    const total = job.total || request.steps || 0;
    this.progress.max = total || 1;
    this.progress.value = job.step || 0;
    this.progress.setAttribute('aria-label', `Progress of “${short}”`);
    this.status.textContent = `Step ${job.step || 0} / ${total} · ${percent(job)}%`
        + (job.etaMs ? ` · ${formatDuration(job.etaMs)} left` : '');
  }
}

/** "64×64 · 20 steps · Euler a · tiny · seed 42": what a job makes, in one line. */
function describe(request, samplerName) {
  const parts = [`${request.width ?? '?'}×${request.height ?? '?'}`, `${request.steps ?? '?'} steps`];
  if (request.sampler) {
    parts.push(samplerName(request.sampler));
  }
  if (request.model) {
    parts.push(request.model);
  }
  parts.push(request.seed === undefined || request.seed < 0 ? 'random seed' : `seed ${request.seed}`);
  return parts.join(' · ');
}

/** The share of the running job's steps done, 0 to 100. */
function percent(job) {
  const total = job.total || (job.request && job.request.steps) || 0;
  return total ? Math.min(100, Math.round((100 * (job.step || 0)) / total)) : 0;
}

function statusText(job, step, total) {
  switch (job.status) {
    case 'running':
      return `Step ${step} / ${total}` + (job.etaMs ? ` · ${formatDuration(job.etaMs)} left` : '');
    case 'queued':
      return `#${job.position ?? '?'} in queue` + (job.etaMs ? ` · done in ${formatDuration(job.etaMs)}` : '');
    case 'succeeded':
      return job.images && job.images.length > 1 ? `Done · ${job.images.length} images` : 'Done';
    case 'cancelled':
      return 'Cancelled';
    case 'failed':
      return `Failed: ${job.error ? job.error.message : 'unknown error'}`;
    default:
      return job.status;
  }
}

function fromServer(job) {
  return {
    id: job.id,
    status: job.status,
    position: job.position,
    etaMs: job.eta_ms,
    step: job.progress ? job.progress.step : 0,
    total: job.progress ? job.progress.total : 0,
    request: job.request,
    error: job.error,
    images: job.images,
    finishedAt: job.finished_at,
  };
}

function shorten(text, length) {
  return text && text.length > length ? `${text.slice(0, length - 1)}…` : text || '';
}
