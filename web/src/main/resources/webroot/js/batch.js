/**
 * Batches: uploads a prompt file to /api/v1/batches and follows it line by line (the parsed prompt,
 * status, live step progress from the event stream, the error of each bad line, a thumbnail of each
 * finished line), with an overall progress bar and its ETA, Cancel for the whole batch, and a list of
 * recent batches to reopen one after a reload.
 */
import { imageUrl, request } from './api.js';
import { announce, el, formatDate, formatDuration } from './dom.js';

const POLL_MS = 1000;
const RECENT_BATCHES = 10;
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'invalid']);
const byId = (id) => document.getElementById(id);
const batchPath = (id) => `/api/v1/batches/${encodeURIComponent(id)}`;

/** The batch with every page of its lines (the server sends up to 1,000 lines a page, with next_cursor). */
async function withAllLines(batch) {
  let page = batch;
  const lines = [...batch.lines];
  while (page.next_cursor) {
    page = await request('GET', `${batchPath(batch.id)}?cursor=${encodeURIComponent(page.next_cursor)}`);
    lines.push(...page.lines);
  }
  return { ...page, lines, next_cursor: null };
}

/** How many of the lines are in each status. */
function countLines(lines) {
  const counts = {};
  for (const line of lines) {
    counts[line.status] = (counts[line.status] || 0) + 1;
  }
  return counts;
}

/** "prompts.txt: 5 of 8 done (1 failed), 1 invalid, 2 running or queued." */
function summaryText(name, lines) {
  const counts = countLines(lines);
  const n = (status) => counts[status] || 0;
  const done = n('succeeded') + n('failed') + n('cancelled');
  const ended = [n('failed') ? `${n('failed')} failed` : null, n('cancelled') ? `${n('cancelled')} cancelled` : null]
      .filter(Boolean);
  return `${name}: ${done} of ${lines.length} done` + (ended.length ? ` (${ended.join(', ')})` : '')
      + (n('invalid') ? `, ${n('invalid')} invalid` : '')
      + (n('running') + n('queued') ? `, ${n('running') + n('queued')} running or queued` : '') + '.';
}

export class BatchView {
  constructor() {
    this.batch = null;
    this.progress = new Map();
    this.thumbnails = new Map();
    this.timer = 0;
    byId('batch-file').addEventListener('change', (event) => {
      const file = event.target.files[0];
      if (file) {
        this.upload(file);
      }
      event.target.value = '';
    });
    byId('batch-cancel').addEventListener('click', () => this.cancel());
    this.loadRecent();
  }

  async upload(file) {
    this.showError(null);
    byId('batch-summary').textContent = `Sending ${file.name}…`;
    const text = await file.text();
    try {
      const batch = await request('POST', `/api/v1/batches?name=${encodeURIComponent(file.name)}`, { body: text });
      this.show(await withAllLines(batch));
    } catch (error) {
      byId('batch-summary').textContent = '';
      this.showError(`${file.name}: ${error.message}`);
      return;
    }
    this.loadRecent();
  }

  /** Opens a stored batch (from the recent list). */
  async open(id) {
    this.showError(null);
    try {
      this.show(await withAllLines(await request('GET', batchPath(id))));
    } catch (error) {
      this.showError(error.message);
    }
  }

  show(batch) {
    window.clearTimeout(this.timer);
    this.batch = batch;
    this.progress.clear();
    this.thumbnails.clear();
    this.render();
    this.schedulePoll();
  }

  showError(message) {
    byId('batch-error').textContent = message || '';
    byId('batch-error').hidden = !message;
  }

  /** Cancels the whole batch: its queued lines at once, its running ones within a step. */
  async cancel() {
    const id = this.batch.id;
    byId('batch-cancel').disabled = true;
    try {
      this.batch = await withAllLines(await request('DELETE', batchPath(id)));
      this.render();
      announce(`Cancelling the batch ${this.name()}.`);
    } catch (error) {
      this.showError(error.message);
    }
    this.poll();
  }

  name() {
    return this.batch.name || 'Batch';
  }

  active() {
    return this.batch.lines.some((line) => !FINAL.has(line.status));
  }

  schedulePoll() {
    if (this.batch && this.active()) {
      this.timer = window.setTimeout(() => this.poll(), POLL_MS);
    } else if (this.batch) {
      announce(`The batch ${this.name()} is ${this.batch.cancelled_at ? 'cancelled' : 'done'}.`);
      this.loadRecent();
    }
  }

  /** Reads the batch again; one read at a time, and one more after it when asked meanwhile. */
  async poll() {
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    window.clearTimeout(this.timer);
    const id = this.batch.id;
    try {
      const batch = await withAllLines(await request('GET', batchPath(id)));
      if (this.batch.id === id) {
        this.batch = batch;
        this.render();
      }
    } catch (e) {
      // the server may be restarting: try again
    } finally {
      this.polling = false;
    }
    if (this.pollAgain) {
      this.pollAgain = false;
      this.poll();
    } else {
      this.schedulePoll();
    }
  }

  /** Live step progress of the batch's jobs. */
  handle({ job_id: id, event, data }) {
    const line = this.batch && this.batch.lines.find((l) => l.job_id === id);
    if (!line) {
      return;
    }
    if (event === 'progress') {
      this.progress.set(id, data);
      line.status = 'running';
      this.render();
    } else if (FINAL.has(event)) {
      this.poll();
    }
  }

  /** Lists the most recent batches, each a button that opens it. */
  async loadRecent() {
    let page;
    try {
      page = await request('GET', `/api/v1/batches?limit=${RECENT_BATCHES}`);
    } catch (e) {
      return; // the list is a convenience: the next upload or finished batch tries again
    }
    const items = page.items.map((batch) => {
      const done = batch.counts.succeeded + batch.counts.failed + batch.counts.cancelled;
      const label = `${batch.name || 'Batch'}, ${formatDate(batch.created_at)}: ${done} of ${batch.total} done, ${batch.state}`;
      return el('li', { dataset: { batchId: batch.id } },
        el('button', { type: 'button', class: 'link-like', onclick: () => this.open(batch.id) }, label));
    });
    byId('batch-recent').replaceChildren(...items);
    byId('batch-recent-section').hidden = items.length === 0;
  }

  /** A line's steps done and steps in all, live progress first. */
  lineSteps(line) {
    const total = line.progress.total;
    if (FINAL.has(line.status)) {
      return { step: total, total };
    }
    const live = this.progress.get(line.job_id);
    return { step: Math.max(live ? live.step : 0, line.progress.step), total };
  }

  render() {
    const batch = this.batch;
    byId('batch-summary').textContent = summaryText(this.name(), batch.lines);
    const jobs = batch.lines.filter((line) => line.job_id);
    let done = 0;
    let total = 0;
    for (const line of jobs) {
      const steps = this.lineSteps(line);
      done += steps.step;
      total += steps.total;
    }
    const fraction = total ? done / total : 1;
    const active = this.active();
    byId('batch-progress').value = fraction;
    byId('batch-progress-text').textContent = `${Math.round(fraction * 100)} %`
        + (active && batch.eta_ms !== null && batch.eta_ms !== undefined ? `, ${formatDuration(batch.eta_ms)} left` : '');
    byId('batch-cancel').hidden = !active;
    byId('batch-cancel').disabled = Boolean(batch.cancelled_at);
    byId('batch-current').hidden = false;
    const table = byId('batch-lines');
    table.tBodies[0].replaceChildren(...batch.lines.map((line) => this.row(line)));
    table.hidden = false;
  }

  row(line) {
    const prompt = line.prompt ?? line.source ?? '';
    let status = line.status;
    if (line.status === 'running') {
      const steps = this.lineSteps(line);
      status = steps.step ? `running, step ${steps.step} / ${steps.total}` : 'running';
    } else if (line.status === 'succeeded') {
      status = `done, ${line.images.length} image${line.images.length === 1 ? '' : 's'}`;
    }
    return el('tr', { class: `line ${line.status}`, dataset: { line: line.line, status: line.status } },
      el('th', { scope: 'row' }, line.line),
      el('td', { class: 'line-text', title: line.source || prompt }, prompt),
      el('td', {}, el('span', { class: `badge ${line.status}` }, status),
        line.error ? el('p', { class: 'line-error' }, line.error.message) : null,
        line.status === 'invalid' && line.source ? el('code', { class: 'line-source' }, line.source) : null),
      el('td', { class: 'line-images' }, this.thumbnail(line, prompt)));
  }

  /** The line's first image as a thumbnail that opens the image, kept across redraws; null until it has one. */
  thumbnail(line, prompt) {
    if (line.status !== 'succeeded' || !line.images.length) {
      return null;
    }
    if (!this.thumbnails.has(line.line)) {
      const id = line.images[0];
      const img = el('img', { alt: `Line ${line.line}: ${prompt}`, width: 40, height: 40, loading: 'lazy' });
      const link = el('a', { class: 'line-thumb', target: '_blank', rel: 'noopener', dataset: { imageId: id } }, img);
      imageUrl(`/api/v1/images/${encodeURIComponent(id)}/thumbnail`).then((url) => { img.src = url; }, () => {});
      imageUrl(`/api/v1/images/${encodeURIComponent(id)}`).then((url) => { link.href = url; }, () => {});
      this.thumbnails.set(line.line, link);
    }
    return this.thumbnails.get(line.line);
  }
}
