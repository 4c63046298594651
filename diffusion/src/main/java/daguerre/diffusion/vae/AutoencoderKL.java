package daguerre.diffusion.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.nn.Capture;
import daguerre.diffusion.nn.Conv2d;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Scopes;
import java.util.Objects;
import java.util.function.UnaryOperator;

/**
 * The KL-regularised autoencoder of Stable Diffusion (Rombach et al. 2022), as diffusers'
 * {@code AutoencoderKL}. Keys {@code encoder}, {@code decoder}, {@code quant_conv},
 * {@code post_quant_conv}.
 *
 * <p>It works on RAW latents: {@link #decode} expects latents already divided by
 * {@link VaeConfig#scalingFactor()}, and {@link #encode}'s distribution must be multiplied by it
 * before diffusion. That scaling is the caller's (the pipeline's) job. Outputs are created in the
 * input's manager; weights stay in the manager they were loaded into.
 */
public final class AutoencoderKL extends Module {

    /** Epsilon of every GroupNorm in the VAE. */
    static final float NORM_EPS = 1e-6f;

    private final VaeConfig config;
    private final VaeEncoder encoder;
    private final VaeDecoder decoder;
    private final Conv2d quantConv;
    private final Conv2d postQuantConv;

    public AutoencoderKL(VaeConfig config) {
        this.config = config;
        int latent = config.latentChannels();
        this.encoder = child("encoder", new VaeEncoder(config));
        this.decoder = child("decoder", new VaeDecoder(config));
        this.quantConv = child("quant_conv", new Conv2d(2 * latent, 2 * latent, 1, 1, 0));
        this.postQuantConv = child("post_quant_conv", new Conv2d(latent, latent, 1, 1, 0));
    }

    public VaeConfig config() {
        return config;
    }

    private volatile Kernels kernels = Kernels.ALL;

    /** The fused kernels this network's passes use (default: all). */
    public Kernels kernels() {
        return kernels;
    }

    /** The decoder, for tests in this package. */
    VaeDecoder decoder() {
        return decoder;
    }

    /** Uses {@code kernels} in this network's passes from now on. */
    public void useKernels(Kernels kernels) {
        this.kernels = Objects.requireNonNull(kernels, "kernels");
    }

    /** Raw latents [B, latent, h, w] -> images [B, out_channels, h * f, w * f], roughly in [-1, 1], not clamped. */
    public NDArray decode(NDArray z) {
        return decode(z, (Capture) null);
    }

    /**
     * As {@link #decode(NDArray)}, recording {@code post_quant_conv} and {@code decoder.*}
     * intermediates (null: none).
     */
    public NDArray decode(NDArray z, Capture capture) {
        checkLatents(z);
        return kernels.run(this, () -> Scopes.scoped(() -> {
            NDArray h = Capture.record(capture, "post_quant_conv", postQuantConv.forward(z));
            return decoder.forward(h, Capture.child(capture, "decoder"));
        }, z));
    }

    /** Images [B, in_channels, H, W] in [-1, 1] -> the latent distribution (raw, unscaled), in the image's manager. */
    public LatentDistribution encode(NDArray x) {
        return encode(x, (Capture) null);
    }

    /** As {@link #encode(NDArray)}, recording {@code encoder.*} and {@code quant_conv} intermediates (null: none). */
    public LatentDistribution encode(NDArray x, Capture capture) {
        checkImages(x);
        return distribution(moments(x, capture));
    }

    /**
     * As {@link #decode(NDArray)}, in overlapping tiles of latents when {@code tiling} says so for
     * this size ({@link VaeTiling#tiles}), else exactly {@link #decode(NDArray)}. Tiles are decoded
     * one after another and blended into one output, so the activations alive at a time are one
     * tile's.
     */
    public NDArray decode(NDArray z, VaeTiling tiling) {
        checkLatents(z);
        // An image's decode, once, after its U-Net steps (not per tile, nor in training): their freed
        // activations (2-30 MiB each at 512 px, below malloc's mmap threshold) stay in malloc's
        // arenas, and the decoder's stages of 64-256 MiB would come from fresh mappings on top of
        // them. Handing the free memory back first keeps the decode's peak at the model plus its own.
        DjlRuntime.releaseFreedNativeMemory();
        int h = Math.toIntExact(z.getShape().get(2));
        int w = Math.toIntExact(z.getShape().get(3));
        int f = config.downsamplingFactor();
        if (!tiling.tiles(h, w, f)) {
            return decode(z);
        }
        // [B, latent, h, w] latent tiles -> [B, out_channels, h * f, w * f] pixel tiles
        Shape out = new Shape(z.getShape().get(0), config.outChannels(), (long) h * f, (long) w * f);
        return tiled(z, tiling, h, w, 1, f, out, this::decode);
    }

    /**
     * As {@link #encode(NDArray)}, in overlapping tiles of pixels when {@code tiling} says so for
     * this size ({@link VaeTiling#tiles} of the latent size), else exactly {@link #encode(NDArray)}:
     * the encoder's moments (mean and log-variance) of the tiles are blended, then split and clamped
     * as untiled. Tiled, height and width must be multiples of the downsampling factor.
     */
    public LatentDistribution encode(NDArray x, VaeTiling tiling) {
        checkImages(x);
        int f = config.downsamplingFactor();
        long height = x.getShape().get(2);
        long width = x.getShape().get(3);
        int h = Math.toIntExact((height + f - 1) / f);
        int w = Math.toIntExact((width + f - 1) / f);
        if (!tiling.tiles(h, w, f)) {
            return encode(x);
        }
        if (height % f != 0 || width % f != 0) {
            throw new IllegalArgumentException("tiled VAE encode needs images a multiple of " + f + " px on each side, got " + x.getShape());
        }
        // [B, in_channels, H, W] pixel tiles -> [B, 2L, h, w] moment tiles
        Shape out = new Shape(x.getShape().get(0), 2L * config.latentChannels(), h, w);
        return distribution(tiled(x, tiling, h, w, f, 1, out, tile -> moments(tile, null)));
    }

    /**
     * Runs {@code pass} on each tile of {@code input} in turn and accumulates its outputs, weighted by
     * {@link VaeTiling#weights}, into one new array of {@code outShape} in the input's manager. Each
     * tile's input crop, output, weights and partial sums are closed before the next tile starts.
     *
     * @param h latent height and {@code w} latent width (the tile grid's units)
     * @param inScale input pixels per latent pixel (decode 1, encode the factor)
     * @param outScale output pixels per latent pixel (decode the factor, encode 1)
     */
    static NDArray tiled(NDArray input, VaeTiling tiling, int h, int w, int inScale, int outScale, Shape outShape,
                         UnaryOperator<NDArray> pass) {
        int[] ys = tiling.origins(h);
        int[] xs = tiling.origins(w);
        int th = tiling.span(h);
        int tw = tiling.span(w);
        return blended(input, new TileGrid(ys, xs, th, tw, VaeTiling.weights(ys, th, h, outScale), VaeTiling.weights(xs, tw, w, outScale)),
                inScale, outScale, outShape, pass);
    }

    /**
     * Tile origins (latent pixels) and spans along rows and columns, with each tile's row and column
     * weights ({@code rowWeights[i]}: [th * outScale]); the weight of tile (i, j) is their outer product.
     */
    record TileGrid(int[] ys, int[] xs, int th, int tw, float[][] rowWeights, float[][] columnWeights) {}

    /** {@link #tiled} on a given grid and weights (tests compare other blends with the same tiles). */
    static NDArray blended(NDArray input, TileGrid grid, int inScale, int outScale, Shape outShape, UnaryOperator<NDArray> pass) {
        int[] ys = grid.ys();
        int[] xs = grid.xs();
        int th = grid.th();
        int tw = grid.tw();
        float[][] rowWeights = grid.rowWeights();
        float[][] columnWeights = grid.columnWeights();
        NDManager manager = input.getManager();
        NDArray out = manager.zeros(outShape, DataType.FLOAT32);  // [B, C_out, h * outScale, w * outScale]
        try {
            for (int i = 0; i < ys.length; i++) {
                for (int j = 0; j < xs.length; j++) {
                    try (NDManager scope = manager.newSubManager()) {
                        NDArray crop = input.get(region(ys[i], xs[j], th, tw, inScale));  // [B, C_in, th * inScale, tw * inScale]
                        crop.attach(scope);
                        NDArray result = pass.apply(crop);                             // [B, C_out, th * outScale, tw * outScale]
                        result.attach(scope);
                        NDArray weight = scope.create(outer(rowWeights[i], columnWeights[j]),
                                new Shape(1, 1, (long) th * outScale, (long) tw * outScale));
                        NDIndex at = region(ys[i], xs[j], th, tw, outScale);
                        NDArray sum = out.get(at);
                        sum.attach(scope);
                        out.set(at, sum.add(result.mul(weight)));
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
        return out;
    }

    /** {@code [:, :, y * scale : (y + th) * scale, x * scale : (x + tw) * scale]} */
    private static NDIndex region(int y, int x, int th, int tw, int scale) {
        return new NDIndex(":, :, {}:{}, {}:{}", (long) y * scale, (long) (y + th) * scale, (long) x * scale, (long) (x + tw) * scale);
    }

    /** rows (x) columns: [rows.length * columns.length], row-major. */
    private static float[] outer(float[] rows, float[] columns) {
        float[] product = new float[rows.length * columns.length];
        for (int r = 0; r < rows.length; r++) {
            for (int c = 0; c < columns.length; c++) {
                product[r * columns.length + c] = rows[r] * columns[c];
            }
        }
        return product;
    }

    /** Images [B, in_channels, H, W] -> moments [B, 2L, H / f, W / f] in the image's manager. */
    private NDArray moments(NDArray x, Capture capture) {
        return kernels.run(this, () -> Scopes.scoped(() -> Capture.record(capture, "quant_conv",
                quantConv.forward(encoder.forward(x, Capture.child(capture, "encoder")))), x));
    }

    /** Moments [B, 2L, h, w] (closed) -> mean [B, L, h, w] and log-variance [B, L, h, w] clamped to [-30, 20]. */
    private LatentDistribution distribution(NDArray moments) {
        long latent = config.latentChannels();
        try (moments; NDArray rawLogvar = moments.get(new NDIndex(":, {}:", latent))) {
            NDArray mean = moments.get(new NDIndex(":, :{}", latent));
            NDArray logvar = Scopes.scoped(() -> rawLogvar.clip(-30f, 20f), rawLogvar);
            return new LatentDistribution(mean, logvar);
        }
    }

    private void checkLatents(NDArray z) {
        if (z.getShape().dimension() != 4 || z.getShape().get(1) != config.latentChannels()) {
            throw new IllegalArgumentException("VAE latents must be [B, " + config.latentChannels() + ", h, w], got " + z.getShape());
        }
    }

    private void checkImages(NDArray x) {
        if (x.getShape().dimension() != 4 || x.getShape().get(1) != config.inChannels()) {
            throw new IllegalArgumentException("VAE images must be [B, " + config.inChannels() + ", H, W], got " + x.getShape());
        }
    }
}
