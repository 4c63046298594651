package daguerre.diffusion.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Activations;
import daguerre.diffusion.nn.Capture;
import daguerre.diffusion.nn.Conv2d;
import daguerre.diffusion.nn.GroupNorm;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Scopes;
import daguerre.diffusion.nn.SinusoidalEmbedding;
import daguerre.diffusion.nn.TimestepEmbedding;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The conditional denoising U-Net of Stable Diffusion 1.x/2.x (Rombach et al. 2022), as diffusers'
 * {@code UNet2DConditionModel}: predicts the model output (epsilon or v, as trained) for noisy
 * latents at given timesteps, conditioned on a text context by cross-attention. It knows nothing of
 * sampling. Children mirror the diffusers keys: {@code conv_in}, {@code time_embedding},
 * {@code down_blocks.i}, {@code mid_block}, {@code up_blocks.i}, {@code conv_norm_out},
 * {@code conv_out}. {@code time_proj} is the sinusoidal embedding: no weights.
 *
 * <p>Weights live in the manager they were loaded into; a forward pass creates its arrays in the
 * sample's manager and returns only the output there (callers run each call in a child manager).
 */
public final class UNet2DConditionModel extends Module {

    private final UNetConfig config;
    private final Conv2d convIn;
    private final TimestepEmbedding timeEmbedding;
    private final List<UNetDownBlock> downBlocks = new ArrayList<>();
    private final UNetMidBlock midBlock;
    private final List<UNetUpBlock> upBlocks = new ArrayList<>();
    private final GroupNorm convNormOut;
    private final Conv2d convOut;

    public UNet2DConditionModel(UNetConfig config) {
        this.config = config;
        int first = config.blockOutChannels().get(0);
        this.convIn = child("conv_in", new Conv2d(config.inChannels(), first, 3, 1, 1));
        // time_proj is the sinusoidal embedding (SinusoidalEmbedding): no weights
        this.timeEmbedding = child("time_embedding", new TimestepEmbedding(first, config.timeEmbeddingDim()));
        for (int i = 0; i < config.levels(); i++) {
            downBlocks.add(child("down_blocks." + i, new UNetDownBlock(config, i)));
        }
        this.midBlock = child("mid_block", new UNetMidBlock(config));
        for (int i = 0; i < config.levels(); i++) {
            upBlocks.add(child("up_blocks." + i, new UNetUpBlock(config, i)));
        }
        this.convNormOut = child("conv_norm_out", new GroupNorm(config.normNumGroups(), first, config.normEps()));
        // the SiLU after conv_norm_out has no weights
        this.convOut = child("conv_out", new Conv2d(first, config.outChannels(), 3, 1, 1));
    }

    public UNetConfig config() {
        return config;
    }

    private volatile Kernels kernels = Kernels.ALL;

    /** The fused kernels this network's passes use (default: all). */
    public Kernels kernels() {
        return kernels;
    }

    /** Uses {@code kernels} in this network's passes from now on. */
    public void useKernels(Kernels kernels) {
        this.kernels = Objects.requireNonNull(kernels, "kernels");
    }

    /**
     * One denoiser evaluation.
     *
     * @param sample noisy latents [B, in_channels, h, w]
     * @param timesteps [B] (or a single value for the whole batch), any numeric type; fractional
     *     values allowed
     * @param context text encoder hidden states [B, T, cross_attention_dim]
     * @return [B, out_channels, h, w], in the sample's manager
     */
    public NDArray forward(NDArray sample, NDArray timesteps, NDArray context) {
        return forward(sample, timesteps, context, null);
    }

    /** As {@link #forward(NDArray, NDArray, NDArray)} with the timesteps as Java floats ([B] or one value). */
    public NDArray forward(NDArray sample, float[] timesteps, NDArray context) {
        return run(sample, timesteps, context, null);
    }

    /**
     * As {@link #forward(NDArray, NDArray, NDArray)}, also recording intermediates (null: none)
     * under the names of the golden {@code intermediates.safetensors}: {@code time_proj},
     * {@code time_embedding}, {@code conv_in}, {@code down_blocks.i}, {@code mid_block},
     * {@code up_blocks.i}, {@code conv_norm_out}, and the transformers' internals
     * ({@code down_blocks.0.attentions.0.proj_in}, ...).
     */
    public NDArray forward(NDArray sample, NDArray timesteps, NDArray context, Capture capture) {
        NDArray asFloat = timesteps.toType(DataType.FLOAT32, false);
        float[] values = asFloat.toFloatArray();
        if (asFloat != timesteps) {
            asFloat.close();
        }
        return run(sample, values, context, capture);
    }

    private NDArray run(NDArray sample, float[] timesteps, NDArray context, Capture capture) {
        Shape shape = sample.getShape();
        if (shape.dimension() != 4 || shape.get(1) != config.inChannels()) {
            throw new IllegalArgumentException("UNet sample must be [B, " + config.inChannels() + ", h, w], got " + shape);
        }
        long batch = shape.get(0);
        if (context.getShape().dimension() != 3 || context.getShape().get(0) != batch
                || context.getShape().get(2) != config.crossAttentionDim()) {
            throw new IllegalArgumentException("UNet context must be [" + batch + ", T, " + config.crossAttentionDim()
                    + "], got " + context.getShape());
        }
        float[] steps = perSample(timesteps, batch);
        return kernels.run(this, () -> Scopes.scoped(() -> {
            // time_proj: [B] -> [B, C0]; time_embedding: [B, C0] -> [B, 4*C0]
            int first = config.blockOutChannels().get(0);
            NDArray tProj = sample.getManager().create(
                    SinusoidalEmbedding.embed(steps, first, config.flipSinToCos(), config.freqShift()), new Shape(batch, first));
            Capture.record(capture, "time_proj", tProj);
            NDArray temb = Capture.record(capture, "time_embedding", timeEmbedding.forward(tProj));

            NDArray h = Capture.record(capture, "conv_in", convIn.forward(sample));
            List<NDArray> skips = new ArrayList<>();
            skips.add(h);
            for (int i = 0; i < downBlocks.size(); i++) {
                h = Capture.record(capture, "down_blocks." + i,
                        downBlocks.get(i).forward(h, temb, context, skips, Capture.child(capture, "down_blocks." + i)));
            }
            h = Capture.record(capture, "mid_block", midBlock.forward(h, temb, context, Capture.child(capture, "mid_block")));
            for (int i = 0; i < upBlocks.size(); i++) {
                h = Capture.record(capture, "up_blocks." + i,
                        upBlocks.get(i).forward(h, temb, context, skips, Capture.child(capture, "up_blocks." + i)));
            }
            h = Capture.record(capture, "conv_norm_out", convNormOut.forward(h));
            return convOut.forward(Activations.silu(h));
        }, sample, context));
    }

    private static float[] perSample(float[] values, long batch) {
        if (values.length == batch) {
            return values;
        }
        if (values.length == 1) {
            float[] repeated = new float[Math.toIntExact(batch)];
            Arrays.fill(repeated, values[0]);
            return repeated;
        }
        throw new IllegalArgumentException("UNet timesteps must hold 1 or " + batch + " values, got " + values.length);
    }
}
