/**
 * Batch prompt files: uploads a file to /api/v1/batches and follows it line by line (status,
 * live step progress from the event stream, and the error of each bad line) until every line
 * is done.
 */
import { request } from './api.js';
import { announce, el } from './dom.js';

const POLL_MS = 1000;
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'invalid']);
const byId = (id) => document.getElementById(id);

/** The batch with every page of its lines (the server sends up to 1,000 lines a page, with next_cursor). */
async function withAllLines(batch) {
  let page = batch;
  const lines = [...batch.lines];
  while (page.next_cursor) {
    page = await request('GET', `/api/v1/batches/${encodeURIComponent(batch.id)}?cursor=${encodeURIComponent(page.next_cursor)}`);
    lines.push(...page.lines);
  }
  return { ...page, lines, next_cursor: null };
}

export class BatchView {
  constructor() {
    this.batch = null;
    this.fileLines = [];
    this.progress = new Map();
    this.timer = 0;
    byId('batch-file').addEventListener('change', (event) => {
      const file = event.target.files[0];
      if (file) {
        this.upload(file);
      }
      event.target.value = '';
    });
  }

  async upload(file) {
    window.clearTimeout(this.timer);
    byId('batch-error').hidden = true;
    byId('batch-summary').textContent = `Sending ${file.name}…`;
    const text = await file.text();
    this.fileLines = text.split(/\r?\n/);
    this.progress.clear();
    try {
      this.batch = await withAllLines(await request('POST', '/api/v1/batches', { body: text }));
    } catch (error) {
      byId('batch-summary').textContent = '';
      byId('batch-error').textContent = `${file.name}: ${error.message}`;
      byId('batch-error').hidden = false;
      return;
    }
    this.fileName = file.name;
    this.render();
    this.schedulePoll();
  }

  schedulePoll() {
    if (this.batch && this.batch.lines.some((line) => !FINAL.has(line.status))) {
      this.timer = window.setTimeout(() => this.poll(), POLL_MS);
    } else if (this.batch) {
      announce(`The batch ${this.fileName} is done.`);
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
    try {
      this.batch = await withAllLines(await request('GET', `/api/v1/batches/${encodeURIComponent(this.batch.id)}`));
      this.render();
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
    if (!this.batch || !this.batch.lines.some((line) => line.job_id === id)) {
      return;
    }
    if (event === 'progress') {
      this.progress.set(id, data);
      const line = this.batch.lines.find((l) => l.job_id === id);
      line.status = 'running';
      this.render();
    } else if (FINAL.has(event)) {
      this.poll();
    }
  }

  render() {
    const batch = this.batch;
    const counts = batch.counts || {};
    const done = batch.lines.filter((line) => FINAL.has(line.status)).length;
    const problems = (counts.invalid || 0) + (counts.failed || 0);
    byId('batch-summary').textContent = `${this.fileName}: ${done} of ${batch.total} lines done`
        + (counts.succeeded ? `, ${counts.succeeded} succeeded` : '') + (problems ? `, ${problems} with errors` : '') + '.';
    const rows = batch.lines.map((line) => {
      const text = (this.fileLines[line.line - 1] || '').trim();
      let status = line.status;
      if (line.status === 'running' && this.progress.has(line.job_id)) {
        const p = this.progress.get(line.job_id);
        status = `running, step ${p.step} / ${p.total}`;
      } else if (line.status === 'succeeded') {
        status = `done, ${line.images.length} image${line.images.length === 1 ? '' : 's'}`;
      }
      return el('tr', { class: `line ${line.status}`, dataset: { line: line.line, status: line.status } },
        el('th', { scope: 'row' }, line.line),
        el('td', { class: 'line-text', title: text }, text),
        el('td', {}, el('span', { class: `badge ${line.status}` }, status),
          line.error ? el('p', { class: 'line-error' }, line.error.message) : null));
    });
    const table = byId('batch-lines');
    table.tBodies[0].replaceChildren(...rows);
    table.hidden = false;
  }
}
