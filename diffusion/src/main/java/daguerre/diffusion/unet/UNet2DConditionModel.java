package daguerre.diffusion.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
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
 * The conditional denoising U-Net of Stable Diffusion 1.x/2.x (Rombach et al. 2022) and SDXL
 * (Podell et al. 2023), as diffusers' {@code UNet2DConditionModel}: predicts the model output
 * (epsilon or v, as trained) for noisy latents at given timesteps, conditioned on a text context by
 * cross-attention and, for SDXL ({@code addition_embed_type: "text_time"}), on a pooled text
 * embedding and size/crop micro-conditioning added to the time embedding. It knows nothing of
 * sampling. Children mirror the diffusers keys: {@code conv_in}, {@code time_embedding},
 * {@code add_embedding} (SDXL), {@code down_blocks.i}, {@code mid_block}, {@code up_blocks.i},
 * {@code conv_norm_out}, {@code conv_out}. {@code time_proj} and {@code add_time_proj} are
 * sinusoidal embeddings: no weights.
 *
 * <p>Weights live in the manager they were loaded into; a forward pass creates its arrays in the
 * sample's manager and returns only the output there (callers run each call in a child manager).
 *
 * <p><b>Step caching</b> (DeepCache, Ma et al. 2023): {@link #forwardKeepingDeepFeatures} is the
 * full pass that also returns the input of the last (shallowest) up block, the "deep features";
 * {@link #forwardShallow} then recomputes only the shallow part (time embedding, conv_in, down
 * block 0 without its downsampler, the last up block, conv_norm_out and conv_out) with those
 * features standing in for everything below:
 *
 * <pre>
 * full:    conv_in -> down 0 -> down 1 .. down L-1 -> mid -> up 0 .. up L-2 --deep--> up L-1 -> conv_out
 * shallow: conv_in -> down 0 without its downsampler ---- cached deep -------> up L-1 -> conv_out
 *          (in both, up L-1 also takes the skips of conv_in and of down 0's layers)
 * </pre>
 */
public final class UNet2DConditionModel extends Module {

    private final UNetConfig config;
    private final Conv2d convIn;
    private final TimestepEmbedding timeEmbedding;
    private final TimestepEmbedding addEmbedding;
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
        // add_time_proj is the sinusoidal embedding of the time ids: no weights
        this.addEmbedding = config.hasTextTime()
                ? child("add_embedding", new TimestepEmbedding(config.textTime().inputDim(), config.timeEmbeddingDim()))
                : null;
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
     * @param timesteps [B] (or a single value for the whole batch), fractional values allowed
     * @param conditioning the text context [B, T, cross_attention_dim]; for a config with
     *     {@code addition_embed_type: "text_time"} also textEmbeds [B, P] and timeIds [B, N] with
     *     P + N * addition_time_embed_dim = projection_class_embeddings_input_dim (both null otherwise)
     * @return [B, out_channels, h, w], in the sample's manager
     */
    public NDArray forward(NDArray sample, float[] timesteps, UNetConditioning conditioning) {
        return run(sample, timesteps, conditioning, null, null, false).get(0);
    }

    /**
     * The input of the last (shallowest) up block, which a DeepCache shallow pass reuses in place of
     * the deep part of the network: [B, C, h, w] at the latent size, C = block_out_channels[1]
     * (block_out_channels[0] for a one-level U-Net), one row per U-Net row (per job, per guidance half).
     */
    public record DeepFeatures(NDArray features) {
        public DeepFeatures {
            Objects.requireNonNull(features, "features");
        }
    }

    /**
     * A full pass's output and the deep features it kept.
     *
     * @param output [B, out_channels, h, w]
     * @param deep the input of the last up block, [B, C, h, w]
     */
    public record CachingOutput(NDArray output, DeepFeatures deep) {}

    /**
     * The full pass of {@link #forward(NDArray, float[], UNetConditioning)} (the same operations, the
     * same output), also keeping the deep features for later {@link #forwardShallow} calls. Both
     * arrays are in the sample's manager.
     */
    public CachingOutput forwardKeepingDeepFeatures(NDArray sample, float[] timesteps, UNetConditioning conditioning) {
        NDList out = run(sample, timesteps, conditioning, null, null, true);
        return new CachingOutput(out.get(0), new DeepFeatures(out.get(1)));
    }

    /**
     * DeepCache's cached step: only the shallow part of the network runs on {@code sample}, with
     * {@code deep} (kept by an earlier full pass, of the same rows) standing in for the deep part.
     * The time embedding (and SDXL's added embedding) is computed as in the full pass. Fed the deep
     * features of the same sample, timestep and conditioning, it returns the full pass's output up
     * to floating-point rounding.
     *
     * @param deep [B, C, h, w] as {@link #deepFeatureChannels()} and the sample's size
     * @return [B, out_channels, h, w], in the sample's manager
     */
    public NDArray forwardShallow(NDArray sample, float[] timesteps, UNetConditioning conditioning, DeepFeatures deep) {
        Shape expected = new Shape(sample.getShape().get(0), deepFeatureChannels(), sample.getShape().get(2), sample.getShape().get(3));
        if (!deep.features().getShape().equals(expected)) {
            throw new IllegalArgumentException("deep features must be " + expected + " for sample " + sample.getShape()
                    + ", got " + deep.features().getShape());
        }
        return run(sample, timesteps, conditioning, null, deep.features(), false).get(0);
    }

    /** Channels of the {@link DeepFeatures}: the input width of the last up block. */
    public int deepFeatureChannels() {
        return config.blockOutChannels().get(Math.min(1, config.levels() - 1));
    }

    /**
     * As {@link #forward(NDArray, float[], UNetConditioning)}, also recording intermediates (null:
     * none) under the names of the golden {@code intermediates.safetensors}; with added
     * conditioning also {@code add_time_proj} ([B * N, addition_time_embed_dim]),
     * {@code add_embedding_input} and {@code add_embedding}.
     */
    public NDArray forward(NDArray sample, float[] timesteps, UNetConditioning conditioning, Capture capture) {
        return run(sample, timesteps, conditioning, capture, null, false).get(0);
    }

    /**
     * One SD 1.x/2.x denoiser evaluation: {@link #forward(NDArray, float[], UNetConditioning)} with
     * the text context only (a config with added conditioning refuses it).
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
        return run(sample, timesteps, UNetConditioning.of(context), null, null, false).get(0);
    }

    /**
     * As {@link #forward(NDArray, NDArray, NDArray)}, also recording intermediates (null: none)
     * under the names of the golden {@code intermediates.safetensors}: {@code time_proj},
     * {@code time_embedding}, {@code conv_in}, {@code down_blocks.i}, {@code mid_block},
     * {@code up_blocks.i}, {@code conv_norm_out}, and the transformers' internals
     * ({@code down_blocks.0.attentions.0.proj_in}, ...).
     */
    public NDArray forward(NDArray sample, NDArray timesteps, NDArray context, Capture capture) {
        return run(sample, floats(timesteps), UNetConditioning.of(context), capture, null, false).get(0);
    }

    /**
     * One pass: the full network ({@code cachedDeep} null), also returning the deep features as a
     * second array when {@code keepDeep}; or the shallow part on {@code cachedDeep}.
     */
    private NDList run(NDArray sample, float[] timesteps, UNetConditioning conditioning, Capture capture,
                       NDArray cachedDeep, boolean keepDeep) {
        Shape shape = sample.getShape();
        if (shape.dimension() != 4 || shape.get(1) != config.inChannels()) {
            throw new IllegalArgumentException("UNet sample must be [B, " + config.inChannels() + ", h, w], got " + shape);
        }
        long batch = shape.get(0);
        NDArray context = conditioning.context();
        if (context.getShape().dimension() != 3 || context.getShape().get(0) != batch
                || context.getShape().get(2) != config.crossAttentionDim()) {
            throw new IllegalArgumentException("UNet context must be [" + batch + ", T, " + config.crossAttentionDim()
                    + "], got " + context.getShape());
        }
        checkAddedConditioning(conditioning, batch);
        NDArray textEmbeds = conditioning.textEmbeds();
        float[] timeIds = conditioning.hasTextTime() ? floats(conditioning.timeIds()) : null;
        float[] steps = perSample(timesteps, batch);
        return kernels.run(this, () -> Scopes.scopedList(() -> {
            // time_proj: [B] -> [B, C0]; time_embedding: [B, C0] -> [B, 4*C0] (the same in every kind of pass)
            int first = config.blockOutChannels().get(0);
            NDArray tProj = sample.getManager().create(
                    SinusoidalEmbedding.embed(steps, first, config.flipSinToCos(), config.freqShift()), new Shape(batch, first));
            Capture.record(capture, "time_proj", tProj);
            NDArray temb = Capture.record(capture, "time_embedding", timeEmbedding.forward(tProj));
            if (addEmbedding != null) {
                temb = temb.add(augmentedEmbedding(sample, textEmbeds, timeIds, batch, capture));
            }

            // conv_in: [B, in, h, w] -> [B, C0, h, w], the first skip
            NDArray h = Capture.record(capture, "conv_in", convIn.forward(sample));
            List<NDArray> skips = new ArrayList<>();
            skips.add(h);
            int last = upBlocks.size() - 1;
            NDArray deep;
            if (cachedDeep != null) {
                // shallow: down block 0's resnets (and transformers) only, which leaves skips = [conv_in, down 0's
                // layers_per_block outputs], each [B, C0, h, w]: the layers_per_block + 1 skips the last up block
                // consumes. Its downsampler's output feeds only the deeper levels, which the cached features replace.
                downBlocks.get(0).forwardWithoutDownsampler(h, temb, context, skips, null);
                deep = cachedDeep;   // [B, C, h, w]: what up block L-2 (or the mid block) gave at the full step
            } else {
                for (int i = 0; i < downBlocks.size(); i++) {
                    h = Capture.record(capture, "down_blocks." + i,
                            downBlocks.get(i).forward(h, temb, context, skips, Capture.child(capture, "down_blocks." + i)));
                }
                h = Capture.record(capture, "mid_block", midBlock.forward(h, temb, context, Capture.child(capture, "mid_block")));
                for (int i = 0; i < last; i++) {
                    NDArray input = h;
                    h = Capture.record(capture, "up_blocks." + i,
                            upBlocks.get(i).forward(input, temb, context, skips, Capture.child(capture, "up_blocks." + i)));
                    if (capture == null) {
                        input.close();   // the mid block's or the previous up block's output: read by nothing else
                    }
                }
                deep = h;            // [B, C, h, w]: upsampled to the latent size by up block L-2
            }
            // the last up block: [B, C, h, w] with the skips of conv_in and down block 0 -> [B, C0, h, w]
            h = Capture.record(capture, "up_blocks." + last,
                    upBlocks.get(last).forward(deep, temb, context, skips, Capture.child(capture, "up_blocks." + last)));
            h = Capture.record(capture, "conv_norm_out", convNormOut.forward(h));
            NDArray out = convOut.forward(Activations.silu(h));
            return keepDeep ? new NDList(out, deep) : new NDList(out);
        }, sample, context, textEmbeds, cachedDeep));
    }

    /**
     * SDXL's added embedding (diffusers' {@code get_aug_embed} for "text_time"): add_time_proj
     * embeds each of the B*N time ids as the timestep is ([B*N, d], d = addition_time_embed_dim),
     * reshaped to [B, N*d] (sample b: its N embeddings in id order), concatenated after the pooled
     * text embedding to [B, P + N*d], then add_embedding: [B, P + N*d] -> [B, 4*C0].
     */
    private NDArray augmentedEmbedding(NDArray sample, NDArray textEmbeds, float[] timeIds, long batch, Capture capture) {
        int dim = config.textTime().timeEmbedDim();
        int ids = timeIds.length / Math.toIntExact(batch);
        NDArray timeProj = sample.getManager().create(
                SinusoidalEmbedding.embed(timeIds, dim, config.flipSinToCos(), config.freqShift()),
                new Shape(timeIds.length, dim));
        Capture.record(capture, "add_time_proj", timeProj);
        // [B*N, d] -> [B, N*d]: row-major, so the N rows of sample b lie next to each other
        NDArray timeEmbeds = timeProj.reshape(batch, (long) ids * dim);
        NDArray input = Capture.record(capture, "add_embedding_input",
                textEmbeds.toType(DataType.FLOAT32, false).concat(timeEmbeds, 1));
        return Capture.record(capture, "add_embedding", addEmbedding.forward(input));
    }

    /** The added inputs must be present exactly when the config has "text_time", and fit its sizes. */
    private void checkAddedConditioning(UNetConditioning conditioning, long batch) {
        if (!config.hasTextTime()) {
            if (conditioning.hasTextTime()) {
                throw new IllegalArgumentException("UNet conditioning has textEmbeds and timeIds, but this U-Net's config "
                        + "has no addition_embed_type (SD 1.x/2.x): pass the context only");
            }
            return;
        }
        if (!conditioning.hasTextTime()) {
            throw new IllegalArgumentException("this U-Net's config has addition_embed_type \"" + UNetConfig.TEXT_TIME
                    + "\" (SDXL): the conditioning needs textEmbeds [B, P] (pooled text embedding) and timeIds [B, N] "
                    + "(micro-conditioning), got the context only");
        }
        Shape text = conditioning.textEmbeds().getShape();
        if (text.dimension() != 2 || text.get(0) != batch) {
            throw new IllegalArgumentException("UNet textEmbeds must be [" + batch + ", P], got " + text);
        }
        Shape time = conditioning.timeIds().getShape();
        if (time.dimension() != 2 || time.get(0) != batch) {
            throw new IllegalArgumentException("UNet timeIds must be [" + batch + ", N], got " + time);
        }
        UNetConfig.TextTime textTime = config.textTime();
        long width = text.get(1) + time.get(1) * textTime.timeEmbedDim();
        if (width != textTime.inputDim()) {
            throw new IllegalArgumentException("UNet textEmbeds " + text + " and timeIds " + time + " give "
                    + text.get(1) + " + " + time.get(1) + " * addition_time_embed_dim " + textTime.timeEmbedDim() + " = " + width
                    + " inputs to add_embedding, but projection_class_embeddings_input_dim is " + textTime.inputDim());
        }
    }

    private static float[] floats(NDArray values) {
        NDArray asFloat = values.toType(DataType.FLOAT32, false);
        float[] out = asFloat.toFloatArray();
        if (asFloat != values) {
            asFloat.close();
        }
        return out;
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
