/**
 * The inpainting mask painted over the init image: a canvas of the image's own size laid over its
 * preview. The brush paints white (repaint), the eraser removes paint, Clear empties the mask. The
 * mask sent is black where nothing is painted and white where it is, at the image's size.
 */
const byId = (id) => document.getElementById(id);

export class MaskEditor {
  constructor() {
    this.canvas = byId('mask-canvas');
    this.context = this.canvas.getContext('2d');
    this.painted = false;
    this.last = null;
    this.bind();
  }

  bind() {
    const brush = byId('mask-brush');
    brush.addEventListener('input', () => { byId('mask-brush-value').textContent = brush.value; });
    byId('mask-clear').addEventListener('click', () => this.clear());
    this.canvas.addEventListener('pointerdown', (event) => {
      event.preventDefault();
      this.canvas.setPointerCapture?.(event.pointerId);
      this.last = this.point(event);
      this.stroke(this.last, this.last);
    });
    this.canvas.addEventListener('pointermove', (event) => {
      if (!this.last) {
        return;
      }
      const next = this.point(event);
      this.stroke(this.last, next);
      this.last = next;
    });
    const end = () => { this.last = null; };
    this.canvas.addEventListener('pointerup', end);
    this.canvas.addEventListener('pointercancel', end);
    this.canvas.addEventListener('pointerleave', end);
  }

  /** Shows the editor for an image of {@code width} x {@code height} pixels, with an empty mask; hides it for none. */
  reset(width, height) {
    byId('mask-tools').hidden = !width;
    if (width) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.clear();
  }

  clear() {
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.painted = false;
  }

  /** A pointer event's position in image pixels. */
  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return {
      x: (event.clientX - box.left) * this.canvas.width / box.width,
      y: (event.clientY - box.top) * this.canvas.height / box.height,
    };
  }

  /** The brush's width in image pixels: the slider gives it in pixels of the image. */
  brushSize() {
    return Number(byId('mask-brush').value);
  }

  stroke(from, to) {
    const ctx = this.context;
    const erase = byId('mask-eraser').checked;
    ctx.save();
    ctx.globalCompositeOperation = erase ? 'destination-out' : 'source-over';
    ctx.strokeStyle = '#ffffff';
    ctx.fillStyle = '#ffffff';
    ctx.lineWidth = this.brushSize();
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    ctx.restore();
    this.painted = erase ? this.hasPaint() : true;
  }

  hasPaint() {
    const { data } = this.context.getImageData(0, 0, this.canvas.width, this.canvas.height);
    for (let i = 3; i < data.length; i += 4) {
      if (data[i] > 0) {
        return true;
      }
    }
    return false;
  }

  /** The mask as a PNG data URL (white repaints, black keeps), or null when nothing is painted. */
  dataUrl() {
    if (!this.painted || !this.hasPaint()) {
      return null;
    }
    const out = document.createElement('canvas');
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    const ctx = out.getContext('2d');
    ctx.fillStyle = '#000000';
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(this.canvas, 0, 0);
    return out.toDataURL('image/png');
  }

  /** The request fields of the mask and its options, or {} without paint. */
  fields() {
    const mask = this.dataUrl();
    if (!mask) {
      return {};
    }
    const fields = {
      mask,
      mask_invert: byId('mask-invert').checked,
      inpaint_fill: byId('inpaint-fill').value,
      inpaint_full_res: byId('inpaint-full-res').checked,
    };
    const blur = byId('mask-blur');
    if (blur.value !== '' && !blur.validity.badInput) {
      fields.mask_blur = Number(blur.value);
    }
    return fields;
  }
}
