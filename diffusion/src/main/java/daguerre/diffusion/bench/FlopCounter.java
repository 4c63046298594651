package daguerre.diffusion.bench;

import daguerre.diffusion.text.ClipTextConfig;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.VaeConfig;
import java.util.List;

/**
 * Floating-point operations of one U-Net step, one VAE decode and one text encode, counted
 * analytically by walking the model's config the way the modules are built.
 *
 * <p>Method: 2 FLOPs (a multiply and an add) per multiply-accumulate of every convolution
 * (out * in * k * k per output position), every linear layer (out * in per token) and the two
 * matrix products of each attention (q k^T and softmax(.) v: 2 * queries * keys * channels).
 * Normalisations, activations, softmax, residual additions and resizes are not counted: they are
 * linear in the activations' size and add well under 1% at Stable Diffusion sizes. This is the
 * convention of the published figures (SD 1.5 U-Net: about 0.8 TFLOP per 512 px image).
 */
public final class FlopCounter {

    private FlopCounter() {}

    // ---------------------------------------------------------------- U-Net

    /**
     * FLOPs of one {@code UNet2DConditionModel} forward on a batch.
     *
     * @param latentHeight latent height (image height / 8 for SD)
     * @param latentWidth latent width
     * @param contextTokens length of the text context (77, or a multiple with long prompts)
     */
    public static long unet(UNetConfig config, int batch, int latentHeight, int latentWidth, int contextTokens) {
        int levels = config.levels();
        List<Integer> channels = config.blockOutChannels();
        int timeDim = config.timeEmbeddingDim();
        // spatial size per level: the stride-2, padding-1 downsampler gives ceil(size / 2)
        long[] heights = new long[levels];
        long[] widths = new long[levels];
        heights[0] = latentHeight;
        widths[0] = latentWidth;
        for (int i = 1; i < levels; i++) {
            heights[i] = (heights[i - 1] + 1) / 2;
            widths[i] = (widths[i - 1] + 1) / 2;
        }
        long macs = 0;
        // time_embedding: linear_1 (C0 -> 4 C0), linear_2 (4 C0 -> 4 C0), once per image
        macs += linear(channels.get(0), timeDim, 1) + linear(timeDim, timeDim, 1);
        if (config.hasTextTime()) {
            // add_embedding (SDXL): linear_1 (projection input -> 4 C0), linear_2 (4 C0 -> 4 C0)
            macs += linear(config.textTime().inputDim(), timeDim, 1) + linear(timeDim, timeDim, 1);
        }
        macs += conv(config.inChannels(), channels.get(0), 3, heights[0] * widths[0]);
        for (int i = 0; i < levels; i++) {
            long positions = heights[i] * widths[i];
            int in = i == 0 ? channels.get(0) : channels.get(i - 1);
            int out = channels.get(i);
            for (int j = 0; j < config.layersPerBlock(); j++) {
                macs += resnet(j == 0 ? in : out, out, timeDim, positions);
                if (config.downHasAttention(i)) {
                    macs += transformer(out, config.downTransformerLayers(i), config, positions, contextTokens);
                }
            }
            if (i < levels - 1) {
                macs += conv(out, out, 3, heights[i + 1] * widths[i + 1]);
            }
        }
        int deepest = channels.get(levels - 1);
        long lowest = heights[levels - 1] * widths[levels - 1];
        macs += 2 * resnet(deepest, deepest, timeDim, lowest) + transformer(deepest, config.midTransformerLayers(), config, lowest, contextTokens);
        for (int index = 0; index < levels; index++) {
            int level = levels - 1 - index;
            long positions = heights[level] * widths[level];
            int out = config.upChannels(index);
            int previous = config.upChannels(Math.max(index - 1, 0));
            // the last resnet of a level concatenates the skip saved before that level's downsampler
            int skipOfLast = config.upChannels(Math.min(index + 1, levels - 1));
            int resnets = config.layersPerBlock() + 1;
            for (int j = 0; j < resnets; j++) {
                int in = (j == 0 ? previous : out) + (j == resnets - 1 ? skipOfLast : out);
                macs += resnet(in, out, timeDim, positions);
                if (config.upHasAttention(index)) {
                    macs += transformer(out, config.upTransformerLayers(index), config, positions, contextTokens);
                }
            }
            if (level > 0) {
                macs += conv(out, out, 3, heights[level - 1] * widths[level - 1]);
            }
        }
        macs += conv(channels.get(0), config.outChannels(), 3, heights[0] * widths[0]);
        return 2 * batch * macs;
    }

    /**
     * FLOPs of one step-caching shallow pass ({@code UNet2DConditionModel.forwardShallow}) on a batch:
     * the time (and added) embedding, conv_in, down block 0 without its downsampler, the last up block
     * (its first resnet taking the cached deep features) and conv_out.
     */
    public static long unetShallow(UNetConfig config, int batch, int latentHeight, int latentWidth, int contextTokens) {
        List<Integer> channels = config.blockOutChannels();
        int levels = config.levels();
        int timeDim = config.timeEmbeddingDim();
        long positions = (long) latentHeight * latentWidth;
        long macs = linear(channels.get(0), timeDim, 1) + linear(timeDim, timeDim, 1);
        if (config.hasTextTime()) {
            macs += linear(config.textTime().inputDim(), timeDim, 1) + linear(timeDim, timeDim, 1);
        }
        macs += conv(config.inChannels(), channels.get(0), 3, positions);
        int first = channels.get(0);
        for (int j = 0; j < config.layersPerBlock(); j++) {
            macs += resnet(first, first, timeDim, positions);
            if (config.downHasAttention(0)) {
                macs += transformer(first, config.downTransformerLayers(0), config, positions, contextTokens);
            }
        }
        int last = levels - 1;
        int deep = channels.get(Math.min(1, last));   // the cached input of the last up block
        int resnets = config.layersPerBlock() + 1;
        for (int j = 0; j < resnets; j++) {
            macs += resnet((j == 0 ? deep : first) + first, first, timeDim, positions);
            if (config.upHasAttention(last)) {
                macs += transformer(first, config.upTransformerLayers(last), config, positions, contextTokens);
            }
        }
        macs += conv(first, config.outChannels(), 3, positions);
        return 2 * batch * macs;
    }

    /** ResnetBlock2D: conv1 3x3, time_emb_proj (once per image), conv2 3x3, 1x1 shortcut when in != out. */
    private static long resnet(long in, long out, long timeDim, long positions) {
        long macs = conv(in, out, 3, positions) + conv(out, out, 3, positions);
        if (timeDim > 0) {
            macs += linear(timeDim, out, 1);
        }
        if (in != out) {
            macs += conv(in, out, 1, positions);
        }
        return macs;
    }

    /**
     * Transformer2DModel over {@code tokens} positions: proj_in and proj_out (C x C per token, as
     * 1x1 convolution or linear), and per BasicTransformerBlock self-attention, cross-attention on
     * the context and the GEGLU feed-forward (C -> 8C, 4C -> C).
     */
    private static long transformer(long c, int depth, UNetConfig config, long tokens, long contextTokens) {
        long d = config.crossAttentionDim();
        long block = attention(c, c, tokens, tokens)
                + attention(c, d, tokens, contextTokens)
                + linear(c, 8 * c, tokens) + linear(4 * c, c, tokens);
        return 2 * linear(c, c, tokens) + depth * block;
    }

    /** Attention: to_q, to_k and to_v from a {@code sourceDim} source, to_out, and q k^T, p v. */
    private static long attention(long c, long sourceDim, long queries, long keys) {
        return 2 * linear(c, c, queries) + 2 * linear(sourceDim, c, keys) + 2 * queries * keys * c;
    }

    // ---------------------------------------------------------------- VAE

    /** FLOPs of one {@code AutoencoderKL.decode} (post_quant_conv and decoder) on a batch of latents. */
    public static long vaeDecode(VaeConfig config, int batch, int latentHeight, int latentWidth) {
        List<Integer> channels = config.blockOutChannels();
        int levels = config.levels();
        int deepest = channels.get(levels - 1);
        long height = latentHeight;
        long width = latentWidth;
        long macs = conv(config.latentChannels(), config.latentChannels(), 1, height * width);
        macs += conv(config.latentChannels(), deepest, 3, height * width);
        // mid block: resnet, one-head self-attention over all positions, resnet
        long positions = height * width;
        macs += 2 * resnet(deepest, deepest, 0, positions) + attention(deepest, deepest, positions, positions);
        for (int i = 0; i < levels; i++) {
            int in = channels.get(levels - 1 - Math.max(i - 1, 0));
            int out = channels.get(levels - 1 - i);
            positions = height * width;
            for (int j = 0; j <= config.layersPerBlock(); j++) {
                macs += resnet(j == 0 ? in : out, out, 0, positions);
            }
            if (i < levels - 1) {
                height *= 2;
                width *= 2;
                macs += conv(out, out, 3, height * width);
            }
        }
        macs += conv(channels.get(0), config.outChannels(), 3, height * width);
        return 2 * batch * macs;
    }

    // ---------------------------------------------------------------- text encoder

    /** FLOPs of one CLIP text encoder forward through every layer on {@code tokens} tokens per prompt. */
    public static long textEncoder(ClipTextConfig config, int batch, int tokens) {
        return textEncoder(config, batch, tokens, config.numHiddenLayers());
    }

    /** FLOPs of the first {@code layers} encoder layers of a CLIP text encoder on {@code tokens} tokens per prompt. */
    public static long textEncoder(ClipTextConfig config, int batch, int tokens, int layers) {
        if (layers < 0 || layers > config.numHiddenLayers()) {
            throw new IllegalArgumentException("layers must be 0.." + config.numHiddenLayers() + ", got " + layers);
        }
        long d = config.hiddenSize();
        long layer = attention(d, d, tokens, tokens) + linear(d, config.intermediateSize(), tokens)
                + linear(config.intermediateSize(), d, tokens);
        return 2 * batch * layers * layer;
    }

    /**
     * FLOPs of SDXL's text conditioning of one batch of prompts as {@code SdxlPromptEncoder.encodeIds}
     * runs it: encoder 1 up to hidden_states[-n] (its last n - 1 layers are not run), encoder 2
     * through every layer (the pooled output comes from the last) and its {@code text_projection} on
     * each prompt's pooled vector.
     *
     * @param hiddenStateFromEnd n, 2 for SDXL's usual penultimate layer
     */
    public static long sdxlTextEncoders(ClipTextConfig first, ClipTextConfig second, int batch, int tokens,
                                        int hiddenStateFromEnd) {
        long projection = 2L * batch * linear(second.hiddenSize(), second.projectionDim(), 1);
        return textEncoder(first, batch, tokens, first.numHiddenLayers() + 1 - hiddenStateFromEnd)
                + textEncoder(second, batch, tokens) + projection;
    }

    // ---------------------------------------------------------------- primitives (multiply-accumulates)

    private static long conv(long in, long out, long kernel, long outputPositions) {
        return in * out * kernel * kernel * outputPositions;
    }

    private static long linear(long in, long out, long tokens) {
        return in * out * tokens;
    }
}
