package daguerre.diffusion.train;

import java.awt.image.BufferedImage;

/** Conversions between opaque sRGB images and the [-1, 1] channel-first values the VAE works on. */
public final class Pixels {

    private Pixels() {}

    /** An image -> [3 * H * W] values, channel-first (R plane, G plane, B plane), v = byte / 127.5 - 1. */
    public static float[] toUnitRange(BufferedImage image) {
        int width = image.getWidth();
        int height = image.getHeight();
        int plane = width * height;
        int[] rgb = image.getRGB(0, 0, width, height, null, 0, width);
        float[] out = new float[3 * plane];
        for (int i = 0; i < plane; i++) {
            out[i] = ((rgb[i] >> 16) & 0xff) / 127.5f - 1f;
            out[plane + i] = ((rgb[i] >> 8) & 0xff) / 127.5f - 1f;
            out[2 * plane + i] = (rgb[i] & 0xff) / 127.5f - 1f;
        }
        return out;
    }
}
