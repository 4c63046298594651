/** The page: wires the generate form, styles, queue, gallery, detail view, batches, PNG Info and the event stream. */
import { BatchView } from './batch.js';
import { DetailView } from './detail.js';
import { EventStream } from './events.js';
import { Gallery } from './gallery.js';
import { GenerateForm } from './generate.js';
import { loadLoraPicker } from './loras.js';
import { PngInfoView } from './pnginfo.js';
import { Queue } from './queue.js';
import { StylesControl } from './styles.js';

const CONNECTION_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting to the server…',
};

async function main() {
  const gallery = new Gallery({ onOpen: (index) => detail.open(index) });
  const detail = new DetailView(gallery, {
    onReuse: (params, what) => form.fill(params, what),
    onSendToImageToImage: (params, image) => {
      form.fill(params, 'all');
      form.setInitImage(image);
    },
    samplerName: (name) => form.samplerName(name),
  });
  const queue = new Queue({ onImages: (ids) => gallery.addImages(ids), samplerName: (name) => form.samplerName(name) });
  const form = new GenerateForm({ submit: (body) => queue.submit(body) });
  const batch = new BatchView();
  const styles = new StylesControl();
  new PngInfoView(form);

  const models = await loadModels(form);
  await loadLoraPicker();
  await styles.load();
  gallery.setModels(models);
  gallery.reload();

  const connection = document.getElementById('connection');
  new EventStream({
    onEvent: (event) => {
      queue.handle(event);
      batch.handle(event);
    },
    onResync: (reconnected) => {
      queue.resync();
      if (reconnected) {
        gallery.catchUp();
      }
    },
    onState: (state) => {
      connection.dataset.state = state;
      connection.textContent = CONNECTION_TEXT[state];
    },
  }).connect();
  document.body.dataset.ready = 'true';
}

/** Loads models and samplers, trying again while the server cannot be reached. */
async function loadModels(form) {
  for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
    try {
      document.getElementById('form-error').hidden = true;
      return await form.load();
    } catch (error) {
      const formError = document.getElementById('form-error');
      formError.textContent = `${error.message} Trying again…`;
      formError.hidden = false;
      await new Promise((resolve) => window.setTimeout(resolve, delay));
    }
  }
}

main();
