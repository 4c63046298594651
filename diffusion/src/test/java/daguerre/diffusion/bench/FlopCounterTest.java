package daguerre.diffusion.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Initializers;
import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.pipeline.ModelPreset;
import daguerre.diffusion.text.ClipTextModel;
import daguerre.diffusion.text.ClipTextModelWithProjection;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.AutoencoderKL;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Checks {@link FlopCounter}'s config walk against a brute-force count over the real modules'
 * parameters: every weight of two or more dimensions is applied once per output position of the
 * level its key names (or per context token for cross-attention keys and values, once per image
 * for the time embedding), so its multiply-accumulates are its element count times that many
 * positions; each attention adds 2 * queries * keys * channels. The modules are built without
 * values (shapes only), so SD 1.5 size costs nothing.
 */
class FlopCounterTest {

    private static final Pattern DOWN = Pattern.compile("down_blocks\\.(\\d+)\\.(downsamplers)?");
    private static final Pattern UP = Pattern.compile("(?:decoder\\.)?up_blocks\\.(\\d+)\\.(upsamplers)?");

    @Test
    void unetCountMatchesBruteForceOverParameters() {
        for (ModelPreset preset : ModelPreset.ALL) {
            for (int[] size : new int[][] {{32, 32}, {8, 8}, {9, 13}, {64, 64}}) {
                long expected = bruteForceUnet(preset.unet(), 2, size[0], size[1], 77);
                assertEquals(expected, FlopCounter.unet(preset.unet(), 2, size[0], size[1], 77),
                        preset.name() + " U-Net at " + size[0] + "x" + size[1]);
            }
        }
    }

    @Test
    void vaeDecodeCountMatchesBruteForceOverParameters() {
        for (ModelPreset preset : ModelPreset.ALL) {
            for (int latent : new int[] {8, 32, 64}) {
                assertEquals(bruteForceVae(preset, latent), FlopCounter.vaeDecode(preset.vae(), 1, latent, latent),
                        preset.name() + " VAE decode of " + latent + "x" + latent + " latents");
            }
        }
    }

    @Test
    void textEncoderCountMatchesBruteForceOverParameters() {
        for (ModelPreset preset : ModelPreset.ALL) {
            ClipTextModel text = new ClipTextModel(preset.textEncoder());
            long tokens = 77;
            long macs = 0;
            for (Map.Entry<String, Parameter> e : text.namedParameters().entrySet()) {
                if (Initializers.Scheme.of(e.getKey(), e.getValue().shape()) == Initializers.Scheme.FAN_IN_NORMAL) {
                    macs += e.getValue().shape().size() * tokens;
                }
                if (e.getKey().endsWith("self_attn.q_proj.weight")) {
                    macs += 2 * tokens * tokens * e.getValue().shape().get(0);
                }
            }
            assertEquals(2 * macs, FlopCounter.textEncoder(preset.textEncoder(), 1, 77), preset.name() + " text encoder");
        }
    }

    /** Both SDXL text encoders as the pipeline runs them: encoder 1 to hidden_states[-n], encoder 2 through its projection. */
    @Test
    void sdxlTextEncodersCountMatchesBruteForceOverParameters() {
        for (ModelPreset preset : List.of(ModelPreset.SDXL, ModelPreset.TINY_XL)) {
            long tokens = 77;
            long macs2 = 0;
            for (Map.Entry<String, Parameter> e : new ClipTextModelWithProjection(preset.textEncoder2()).namedParameters().entrySet()) {
                String key = e.getKey();
                if (Initializers.Scheme.of(key, e.getValue().shape()) == Initializers.Scheme.FAN_IN_NORMAL) {
                    // the projection maps each prompt's pooled vector only
                    macs2 += e.getValue().shape().size() * (key.startsWith("text_projection.") ? 1 : tokens);
                }
                if (key.endsWith("self_attn.q_proj.weight")) {
                    macs2 += 2 * tokens * tokens * e.getValue().shape().get(0);
                }
            }
            long first = FlopCounter.textEncoder(preset.textEncoder(), 1, 77);
            int layers = preset.textEncoder().numHiddenLayers();
            assertEquals(first + 2 * macs2, FlopCounter.sdxlTextEncoders(preset.textEncoder(), preset.textEncoder2(), 1, 77, 1),
                    preset.name());
            // the penultimate layer (n = 2) skips encoder 1's last layer
            assertEquals(first / layers * (layers - 1) + 2 * macs2,
                    FlopCounter.sdxlTextEncoders(preset.textEncoder(), preset.textEncoder2(), 1, 77, 2), preset.name());
        }
    }

    /**
     * SDXL base at 1024 px (latent 128x128), batch 2, 77 tokens, against a hand count written out
     * block by block (docs/performance.md): 3,380,618,199,040 multiply-accumulates per image, so
     * 13.52 TFLOP per batch-2 step (6.76 TFLOP per image).
     */
    @Test
    void sdxlUnetAt1024MatchesTheHandCount() {
        assertEquals(4 * 3_380_618_199_040L, FlopCounter.unet(ModelPreset.SDXL.unet(), 2, 128, 128, 77));
    }

    /** The figures of the performance issue: 1.61 / 0.36 TFLOP per 512 / 256 px step (batch 2), 2.51 TFLOP per 512 px decode. */
    @Test
    void sd15CountsMatchThePublishedFigures() {
        ModelPreset sd15 = ModelPreset.SD15;
        assertEquals(1.61e12, FlopCounter.unet(sd15.unet(), 2, 64, 64, 77), 0.02 * 1.61e12);
        assertEquals(0.36e12, FlopCounter.unet(sd15.unet(), 2, 32, 32, 77), 0.02 * 0.36e12);
        assertEquals(2.51e12, FlopCounter.vaeDecode(sd15.vae(), 1, 64, 64), 0.02 * 2.51e12);
    }

    private static long bruteForceUnet(UNetConfig config, int batch, int height, int width, int contextTokens) {
        return bruteForceUnet(config, batch, height, width, contextTokens, key -> true);
    }

    /**
     * The brute-force count over the weights a step-caching shallow pass uses: the time (and added)
     * embedding, conv_in, down block 0 but its downsampler, the last up block, conv_out.
     */
    @Test
    void shallowUnetCountMatchesBruteForceOverTheShallowBlocksParameters() {
        for (ModelPreset preset : ModelPreset.ALL) {
            String lastUp = "up_blocks." + (preset.unet().levels() - 1) + ".";
            java.util.function.Predicate<String> shallow = key -> key.startsWith("time_embedding.") || key.startsWith("add_embedding.")
                    || key.startsWith("conv_in.") || key.startsWith("conv_out.") || key.startsWith(lastUp)
                    || key.startsWith("down_blocks.0.") && !key.startsWith("down_blocks.0.downsamplers.");
            for (int[] size : new int[][] {{32, 32}, {9, 13}, {64, 64}}) {
                long expected = bruteForceUnet(preset.unet(), 2, size[0], size[1], 77, shallow);
                long shallowFlops = FlopCounter.unetShallow(preset.unet(), 2, size[0], size[1], 77);
                assertEquals(expected, shallowFlops, preset.name() + " shallow U-Net at " + size[0] + "x" + size[1]);
                assertTrue(shallowFlops < FlopCounter.unet(preset.unet(), 2, size[0], size[1], 77));
            }
        }
    }

    private static long bruteForceUnet(UNetConfig config, int batch, int height, int width, int contextTokens,
                                       java.util.function.Predicate<String> counted) {
        int levels = config.levels();
        long[] positions = new long[levels];
        long h = height;
        long w = width;
        for (int i = 0; i < levels; i++) {
            positions[i] = h * w;
            h = (h + 1) / 2;
            w = (w + 1) / 2;
        }
        long macs = 0;
        for (Map.Entry<String, Parameter> e : new UNet2DConditionModel(config).namedParameters().entrySet()) {
            String key = e.getKey();
            Shape shape = e.getValue().shape();
            if (!key.endsWith(".weight") || shape.dimension() < 2 || !counted.test(key)) {
                continue;
            }
            long at;
            if (key.startsWith("time_embedding.") || key.startsWith("add_embedding.") || key.contains(".time_emb_proj.")) {
                at = 1;
            } else if (key.contains(".attn2.to_k.") || key.contains(".attn2.to_v.")) {
                at = contextTokens;
            } else {
                at = positions[level(key, levels)];
            }
            macs += shape.size() * at;
            if (key.endsWith("attn1.to_q.weight") || key.endsWith("attn2.to_q.weight")) {
                long queries = positions[level(key, levels)];
                long keys = key.contains("attn1") ? queries : contextTokens;
                macs += 2 * queries * keys * shape.get(0);
            }
        }
        return 2 * batch * macs;
    }

    /** The resolution level (0 = full latent size) at which the U-Net weight {@code key} produces its output. */
    private static int level(String key, int levels) {
        Matcher down = DOWN.matcher(key);
        if (down.lookingAt()) {
            return Integer.parseInt(down.group(1)) + (down.group(2) != null ? 1 : 0);
        }
        Matcher up = UP.matcher(key);
        if (up.lookingAt()) {
            return levels - 1 - Integer.parseInt(up.group(1)) - (up.group(2) != null ? 1 : 0);
        }
        return key.startsWith("mid_block.") ? levels - 1 : 0;
    }

    private static long bruteForceVae(ModelPreset preset, int latent) {
        AutoencoderKL vae = new AutoencoderKL(preset.vae());
        int levels = preset.vae().levels();
        long macs = 0;
        for (Map.Entry<String, Parameter> e : vae.namedParameters().entrySet()) {
            String key = e.getKey();
            Shape shape = e.getValue().shape();
            if (!key.endsWith(".weight") || shape.dimension() < 2 || key.startsWith("encoder.") || key.startsWith("quant_conv.")) {
                continue;
            }
            // doublings above the latent size at which the weight produces its output
            int doublings;
            String inner = key.startsWith("decoder.") ? key.substring("decoder.".length()) : key;
            Matcher up = UP.matcher(inner);
            if (up.lookingAt()) {
                doublings = Integer.parseInt(up.group(1)) + (up.group(2) != null ? 1 : 0);
            } else if (inner.startsWith("conv_out.")) {
                doublings = levels - 1;
            } else {
                doublings = 0;
            }
            long positions = (long) latent * latent << (2 * doublings);
            macs += shape.size() * positions;
            if (inner.startsWith("mid_block.attentions.0.to_q.")) {
                macs += 2 * positions * positions * shape.get(0);
            }
        }
        return 2 * macs;
    }
}
