/**
 * The queue: every job the server has waiting or running, with its position, a live progress
 * bar (step count and ETA), the latest preview and a cancel button. Finished jobs hand their
 * images to the gallery and leave; failed ones stay with their error until dismissed.
 */
import { ApiError, request } from './api.js';
import { announce, el, formatDuration } from './dom.js';

const CANCELLED_LINGER_MS = 6000;
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

export class Queue {
  /** @param {{onImages: function(string[])}} handlers onImages gets the image ids of each finished job */
  constructor(handlers) {
    this.handlers = handlers;
    this.jobs = new Map();
    this.views = new Map();
    // Events count up; a job remembers the count at its last event, so that an answer to a request
    // sent before that event (older news) does not undo what the event said.
    this.eventCount = 0;
    this.list = document.getElementById('queue');
    this.panel = document.getElementById('queue-panel');
  }

  /** Posts a generation request; the job joins the list. Throws the server's ApiError. */
  async submit(requestBody) {
    const since = this.eventCount;
    const job = await request('POST', '/api/v1/generations', { json: requestBody });
    this.snapshot({ id: job.id, status: job.status, position: job.position, request: requestBody }, since);
    return job;
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

  remove(id) {
    this.jobs.delete(id);
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
    for (const [id, view] of this.views) {
      if (!this.jobs.has(id)) {
        view.li.remove();
        this.views.delete(id);
      }
    }
    const items = jobs.map((job) => this.update(job));
    // Moves only what is out of place, so that a focused Cancel button keeps its focus.
    items.forEach((li, index) => {
      if (this.list.children[index] !== li) {
        this.list.insertBefore(li, this.list.children[index] || null);
      }
    });
    this.panel.hidden = jobs.length === 0;
  }

  /** The list item of a job, made once and then updated in place. */
  update(job) {
    let view = this.views.get(job.id);
    if (!view) {
      view = {
        preview: el('div', { class: 'job-preview' }),
        prompt: el('p', { class: 'job-prompt' }),
        progress: el('progress', { max: 1 }),
        status: el('p', { class: 'job-status' }),
        button: el('button', { type: 'button', class: 'small' }),
      };
      view.button.addEventListener('click', () => {
        const current = this.jobs.get(job.id);
        if (current && (current.status === 'queued' || current.status === 'running')) {
          this.cancel(job.id);
        } else {
          this.remove(job.id);
        }
      });
      view.li = el('li', { class: 'job', dataset: { jobId: job.id } }, view.preview,
          el('div', { class: 'job-body' }, view.prompt, view.progress, view.status), view.button);
      this.views.set(job.id, view);
    }
    const prompt = job.request ? job.request.prompt : '…';
    const short = shorten(prompt, 60);
    const active = job.status === 'queued' || job.status === 'running';
    const total = job.total || (job.request && job.request.steps) || 0;
    const step = job.step || 0;
    view.li.className = `job ${job.status}`;
    view.li.dataset.status = job.status;
    view.prompt.textContent = prompt + (job.request && job.request.n > 1 ? ` · ${job.request.n} images` : '');
    view.prompt.title = prompt;
    view.progress.hidden = job.status !== 'running';
    view.progress.max = total || 1;
    view.progress.setAttribute('aria-label', `Progress of “${short}”`);
    if (job.status === 'running') {
      view.progress.value = step;
    } else {
      view.progress.removeAttribute('value');
    }
    view.status.textContent = statusText(job, step, total);
    view.status.setAttribute('role', job.status === 'failed' ? 'alert' : 'status');
    if (job.preview) {
      const img = view.preview.querySelector('img') || view.preview.appendChild(el('img', { alt: '' }));
      img.src = job.preview;
      img.alt = `Preview of “${short}”`;
    }
    view.button.textContent = active ? (job.cancelling ? 'Cancelling…' : 'Cancel') : 'Dismiss';
    view.button.disabled = Boolean(active && job.cancelling);
    view.button.setAttribute('aria-label', `${active ? 'Cancel' : 'Dismiss'} “${short}”`);
    return view.li;
  }
}

function statusText(job, step, total) {
  switch (job.status) {
    case 'running':
      return `Step ${step} / ${total}` + (job.etaMs ? ` · ${formatDuration(job.etaMs)} left` : '');
    case 'queued':
      return `#${job.position ?? '?'} in queue` + (job.etaMs ? ` · done in ${formatDuration(job.etaMs)}` : '');
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
  };
}

function shorten(text, length) {
  return text && text.length > length ? `${text.slice(0, length - 1)}…` : text || '';
}
