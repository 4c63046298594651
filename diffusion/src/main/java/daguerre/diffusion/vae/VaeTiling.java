package daguerre.diffusion.vae;

import java.util.Locale;

/**
 * Whether and how {@link AutoencoderKL} decodes and encodes in overlapping tiles, so that the
 * activations of a large image stay those of one tile: decode cuts the latents into tiles of
 * {@code tile} x {@code tile} latent pixels, encode cuts the image into tiles of
 * {@code tile * f} pixels ({@code f} the VAE's downsampling factor, so tiles stay on the latent
 * grid); neighbouring tiles overlap by at least {@code overlap} latent pixels, and each output pixel
 * is the weighted mean of the tiles that cover it, with linear ramps across each overlap
 * ({@link #weights}).
 *
 * <p>Tiling changes the result slightly: a tile's convolutions see zero padding instead of their
 * neighbours at its inner edges (the ramps give those pixels little weight), and the VAE's
 * GroupNorm statistics and its mid-block self-attention are taken over one tile instead of the
 * whole map. docs/performance.md gives the measured differences.
 *
 * @param mode when to tile
 * @param tile tile side in latent pixels (at least 2)
 * @param overlap the least overlap of neighbouring tiles in latent pixels, in [0, tile)
 */
public record VaeTiling(Mode mode, int tile, int overlap) {

    /** When to tile. */
    public enum Mode {
        /** Never: the whole image in one pass. */
        OFF,
        /** Whenever the latents do not fit in one tile. */
        ON,
        /** When the image has more than {@link #AUTO_MAX_PIXELS} pixels (and does not fit in one tile). */
        AUTO;

        /** {@code on}, {@code off} or {@code auto} (any case). */
        public static Mode named(String name) {
            for (Mode mode : values()) {
                if (mode.name().equalsIgnoreCase(name.strip())) {
                    return mode;
                }
            }
            throw new IllegalArgumentException("VAE tiling must be on, off or auto, got '" + name + "'");
        }

        /** The lower-case name {@link #named} reads. */
        public String optionName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * {@link Mode#AUTO} tiles images of more pixels than this: 1024 x 1024. Measured with SD 1.5's VAE
     * (docs/performance.md), an untiled decode takes 0.62 GiB of activations at 512 px and 1.75 GiB at
     * 1024 px, growing with the pixel count (and its mid-block attention with its square): past
     * 1024 x 1024 it would pass 4 GiB, while a tiled one stays at one tile's (0.54 GiB at 2048 px).
     * Up to this size nothing is tiled, so auto changes no image at the sizes the supported models
     * were trained at (SDXL's 1024 px included).
     */
    public static final long AUTO_MAX_PIXELS = 1024L * 1024;

    /** Default tile side: 64 latent pixels, 512 px for an SD VAE (the size its activations were measured at). */
    public static final int DEFAULT_TILE = 64;

    /** Default least overlap: 16 latent pixels (128 px for an SD VAE), a quarter of a tile. */
    public static final int DEFAULT_OVERLAP = 16;

    /** The default: {@link Mode#AUTO} with the default tile and overlap. */
    public static final VaeTiling AUTO = of(Mode.AUTO);

    /** Never tile. */
    public static final VaeTiling OFF = of(Mode.OFF);

    /** Always tile what does not fit in one tile. */
    public static final VaeTiling ON = of(Mode.ON);

    public VaeTiling {
        if (mode == null) {
            throw new IllegalArgumentException("VAE tiling mode is missing");
        }
        if (tile < 2 || overlap < 0 || overlap >= tile) {
            throw new IllegalArgumentException("VAE tiles need a side of at least 2 latent pixels and an overlap in [0, side), got side "
                    + tile + " and overlap " + overlap);
        }
    }

    /** {@code mode} with the default tile and overlap. */
    public static VaeTiling of(Mode mode) {
        return new VaeTiling(mode, DEFAULT_TILE, DEFAULT_OVERLAP);
    }

    /**
     * Whether latents of {@code height} x {@code width} (images {@code factor} times that on each axis)
     * are processed in tiles. Latents that fit in one tile never are.
     */
    public boolean tiles(int height, int width, int factor) {
        if (height <= tile && width <= tile) {
            return false;
        }
        return switch (mode) {
            case OFF -> false;
            case ON -> true;
            case AUTO -> (long) height * factor * width * factor > AUTO_MAX_PIXELS;
        };
    }

    /** The side of this tiling's tiles along an axis of {@code size} latent pixels, as {@link #span(int, int, int)}. */
    public int span(int size) {
        return span(size, tile, overlap);
    }

    /**
     * The side of the tiles along an axis of {@code size} latent pixels: the whole axis if it is no
     * longer than {@code tile}; else, with n the fewest tiles of at most {@code tile} that cover it
     * overlapping by at least {@code overlap} (n = 1 + ceil((size - tile) / (tile - overlap))), the
     * shortest side that n tiles overlapping by {@code overlap} cover it with:
     * ceil((size + (n - 1) overlap) / n). So {@code tile} is the largest side, and no more is decoded
     * than the overlaps need: 128 latent px (1024 px) in 3 tiles of 54, not of 64, which decoded
     * 2.25 times the image's pixels.
     */
    public static int span(int size, int tile, int overlap) {
        if (size <= tile) {
            return size;
        }
        int n = 1 + ceilDiv(size - tile, tile - overlap);
        return ceilDiv(size + (n - 1) * overlap, n);
    }

    /** Tile origins along an axis of {@code size} latent pixels, as {@link #origins(int, int, int)} with this tiling's tile and overlap. */
    public int[] origins(int size) {
        return origins(size, tile, overlap);
    }

    /**
     * Where tiles of side {@link #span(int, int, int)} (at most {@code tile}) start along an axis of
     * {@code size} latent pixels so that they cover it, neighbours overlapping by at least
     * {@code overlap}: as few tiles as that allows, spread evenly, the first at 0 and the last ending
     * at {@code size}. One tile at 0 when {@code size <= tile} (it is then {@code size} long).
     */
    public static int[] origins(int size, int tile, int overlap) {
        if (size < 1 || tile < 1 || overlap < 0 || overlap >= tile) {
            throw new IllegalArgumentException("bad tiling: size " + size + ", tile " + tile + ", overlap " + overlap);
        }
        if (size <= tile) {
            return new int[] {0};
        }
        // n - 1 strides of at most (tile - overlap) must reach size - tile; the tiles then shrink to
        // the span, whose strides (size - span) / (n - 1) are still at most span - overlap
        int strides = ceilDiv(size - tile, tile - overlap);
        int span = span(size, tile, overlap);
        int[] origins = new int[strides + 1];
        for (int i = 0; i <= strides; i++) {
            origins[i] = (int) ((long) i * (size - span) / strides);
        }
        return origins;
    }

    /**
     * Blend weights along one axis: {@code weights[i][u]} is the weight of tile i's output pixel u
     * (tile i covers output pixels {@code [origins[i] * scale, (origins[i] + span) * scale)}). Each
     * tile's raw weight rises linearly across its overlap with the previous tile and falls across its
     * overlap with the next, from 1/(2L) to 1 - 1/(2L) over an overlap of L output pixels (1 where no
     * other tile overlaps); the weights are then divided by their sum at each pixel, so that they sum
     * to 1 everywhere. Where only two tiles overlap (always, with an overlap of at most half a tile)
     * the two ramps already sum to 1 and the division changes nothing. The 2-D weight of a tile is
     * the product of its row and column weights, which then sum to 1 over the tiles as well.
     *
     * @param origins tile origins in latent pixels, as {@link #origins(int, int, int)} gives
     * @param span tile side along this axis in latent pixels
     * @param size the axis' length in latent pixels
     * @param scale output pixels per latent pixel (decode: the VAE's factor; encode: 1)
     */
    public static float[][] weights(int[] origins, int span, int size, int scale) {
        int n = origins.length;
        int length = span * scale;
        double[][] raw = new double[n][length];
        for (int i = 0; i < n; i++) {
            // overlaps with the neighbours, in output pixels (0 at the image's edges)
            int before = i == 0 ? 0 : (origins[i - 1] + span - origins[i]) * scale;
            int after = i == n - 1 ? 0 : (origins[i] + span - origins[i + 1]) * scale;
            for (int u = 0; u < length; u++) {
                double w = 1;
                if (before > 0) {
                    w = Math.min(w, (u + 0.5) / before);
                }
                if (after > 0) {
                    w = Math.min(w, (length - u - 0.5) / after);
                }
                raw[i][u] = w;
            }
        }
        double[] sum = new double[size * scale];
        for (int i = 0; i < n; i++) {
            for (int u = 0; u < length; u++) {
                sum[origins[i] * scale + u] += raw[i][u];
            }
        }
        float[][] weights = new float[n][length];
        for (int i = 0; i < n; i++) {
            for (int u = 0; u < length; u++) {
                weights[i][u] = (float) (raw[i][u] / sum[origins[i] * scale + u]);
            }
        }
        return weights;
    }

    /** E.g. {@code auto (tile 64, overlap 16 latent px)}. */
    @Override
    public String toString() {
        return mode.optionName() + " (tile " + tile + ", overlap " + overlap + " latent px)";
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
