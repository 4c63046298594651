package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/** Conversions between images and the VAE's pixel tensors ([B, 3, H, W], values in [-1, 1]). */
public final class ImageTensors {

    private ImageTensors() {}

    /**
     * Decoded pixels to 8-bit RGB images, as diffusers does: (x / 2 + 0.5) clamped to [0, 1],
     * times 255, rounded half to even.
     *
     * @param pixels [B, 3, H, W] in about [-1, 1]
     */
    public static List<BufferedImage> toImages(NDArray pixels) {
        Shape shape = pixels.getShape();
        int batch = (int) shape.get(0);
        int height = (int) shape.get(2);
        int width = (int) shape.get(3);
        float[] values = pixels.toType(DataType.FLOAT32, false).toFloatArray();
        int plane = height * width;
        List<BufferedImage> images = new ArrayList<>(batch);
        for (int b = 0; b < batch; b++) {
            BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
            int base = b * 3 * plane;
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    int i = y * width + x;
                    int r = toByte(values[base + i]);
                    int g = toByte(values[base + plane + i]);
                    int bl = toByte(values[base + 2 * plane + i]);
                    image.setRGB(x, y, (r << 16) | (g << 8) | bl);
                }
            }
            images.add(image);
        }
        return images;
    }

    /** One pixel value in [-1, 1] to 0..255. */
    static int toByte(float value) {
        double unit = Math.min(1.0, Math.max(0.0, value / 2.0 + 0.5));
        return (int) Math.rint(unit * 255.0);
    }

    /**
     * An RGB image to the VAE's input range: [1, 3, H, W] with x / 127.5 - 1 (alpha dropped).
     * The image must already have the target size.
     */
    public static NDArray fromImage(NDManager manager, BufferedImage image) {
        int width = image.getWidth();
        int height = image.getHeight();
        int plane = width * height;
        float[] values = new float[3 * plane];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int rgb = image.getRGB(x, y);
                int i = y * width + x;
                values[i] = ((rgb >> 16) & 0xff) / 127.5f - 1f;
                values[plane + i] = ((rgb >> 8) & 0xff) / 127.5f - 1f;
                values[2 * plane + i] = (rgb & 0xff) / 127.5f - 1f;
            }
        }
        return manager.create(values, new Shape(1, 3, height, width));
    }
}
