package daguerre.weights.model;

import daguerre.weights.TensorSource;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Key/shape sets of original single-file (LDM) Stable Diffusion checkpoints at full size, built
 * from the LDM module structure (as the original {@code openaimodel.py} / {@code model.py} register
 * their layers), without any tensor data.
 */
final class SyntheticLdm implements TensorSource {

    private final Map<String, long[]> shapes = new LinkedHashMap<>();

    /** U-Net options of an LDM yaml ({@code model_channels}, {@code channel_mult}, ...). */
    record Unet(int modelChannels, List<Integer> channelMult, int numResBlocks, Set<Integer> attentionLevels,
                int contextDim, boolean linearProjection, List<Integer> transformerDepth, int admInChannels) {

        /** SD 1.x/2.x: one transformer block everywhere, no added embedding. */
        Unet(int modelChannels, List<Integer> channelMult, int numResBlocks, Set<Integer> attentionLevels, int contextDim,
             boolean linearProjection) {
            this(modelChannels, channelMult, numResBlocks, attentionLevels, contextDim, linearProjection,
                    java.util.Collections.nCopies(channelMult.size(), 1), 0);
        }
    }

    /** SD 1.5: model_channels 320, mult 1,2,4,4, 2 resnets, attention on levels 0-2, CLIP ViT-L context 768. */
    static SyntheticLdm sd15() {
        SyntheticLdm s = new SyntheticLdm();
        s.unet(new Unet(320, List.of(1, 2, 4, 4), 2, Set.of(0, 1, 2), 768, false));
        s.vae(128, List.of(1, 2, 4, 4), 2, 4);
        s.clipText(49408, 768, 77, 12, 3072);
        return s;
    }

    /**
     * SDXL base (SGM yaml): model_channels 320, mult 1,2,4, 2 resnets, transformer depth 0/2/10 (10 in the
     * middle), context 2048 (768 + 1280), adm_in_channels 2816 (6 x 256 + 1280). Its text encoders are not part of this set.
     */
    static SyntheticLdm sdxl() {
        SyntheticLdm s = new SyntheticLdm();
        s.unet(new Unet(320, List.of(1, 2, 4), 2, Set.of(1, 2), 2048, true, List.of(0, 2, 10), 2816));
        s.vae(128, List.of(1, 2, 4, 4), 2, 4);
        return s;
    }

    /** SD 2.1: the same U-Net with linear projections and OpenCLIP ViT-H context 1024 (24 text blocks). */
    static SyntheticLdm sd21() {
        SyntheticLdm s = new SyntheticLdm();
        s.unet(new Unet(320, List.of(1, 2, 4, 4), 2, Set.of(0, 1, 2), 1024, true));
        s.vae(128, List.of(1, 2, 4, 4), 2, 4);
        s.openClipText(49408, 1024, 77, 24, 4096);
        return s;
    }

    private void put(String name, long... shape) {
        shapes.put(name, shape);
    }

    private void norm(String prefix, long c) {
        put(prefix + "weight", c);
        put(prefix + "bias", c);
    }

    private void linear(String prefix, long out, long in, boolean bias) {
        put(prefix + "weight", out, in);
        if (bias) {
            put(prefix + "bias", out);
        }
    }

    private void conv(String prefix, long out, long in, long k) {
        put(prefix + "weight", out, in, k, k);
        put(prefix + "bias", out);
    }

    void unet(Unet u) {
        String p = "model.diffusion_model.";
        long mc = u.modelChannels();
        long time = 4 * mc;
        linear(p + "time_embed.0.", time, mc, true);
        linear(p + "time_embed.2.", time, time, true);
        if (u.admInChannels() > 0) {
            linear(p + "label_emb.0.0.", time, u.admInChannels(), true);
            linear(p + "label_emb.0.2.", time, time, true);
        }
        conv(p + "input_blocks.0.0.", mc, 4, 3);
        ArrayDeque<Long> skips = new ArrayDeque<>();
        skips.push(mc);
        long ch = mc;
        int k = 1;
        int levels = u.channelMult().size();
        for (int i = 0; i < levels; i++) {
            long out = mc * u.channelMult().get(i);
            for (int j = 0; j < u.numResBlocks(); j++) {
                unetResnet(p + "input_blocks." + k + ".0.", ch, out, time);
                ch = out;
                if (u.attentionLevels().contains(i)) {
                    transformer(p + "input_blocks." + k + ".1.", ch, u, u.transformerDepth().get(i));
                }
                skips.push(ch);
                k++;
            }
            if (i != levels - 1) {
                conv(p + "input_blocks." + k + ".0.op.", ch, ch, 3);
                skips.push(ch);
                k++;
            }
        }
        unetResnet(p + "middle_block.0.", ch, ch, time);
        transformer(p + "middle_block.1.", ch, u, u.transformerDepth().get(levels - 1));
        unetResnet(p + "middle_block.2.", ch, ch, time);
        k = 0;
        for (int level = levels - 1; level >= 0; level--) {
            long out = mc * u.channelMult().get(level);
            for (int j = 0; j <= u.numResBlocks(); j++) {
                unetResnet(p + "output_blocks." + k + ".0.", ch + skips.pop(), out, time);
                ch = out;
                boolean attention = u.attentionLevels().contains(level);
                if (attention) {
                    transformer(p + "output_blocks." + k + ".1.", ch, u, u.transformerDepth().get(level));
                }
                if (level != 0 && j == u.numResBlocks()) {
                    conv(p + "output_blocks." + k + "." + (attention ? 2 : 1) + ".conv.", ch, ch, 3);
                }
                k++;
            }
        }
        norm(p + "out.0.", ch);
        conv(p + "out.2.", 4, ch, 3);
    }

    private void unetResnet(String p, long in, long out, long time) {
        norm(p + "in_layers.0.", in);
        conv(p + "in_layers.2.", out, in, 3);
        linear(p + "emb_layers.1.", out, time, true);
        norm(p + "out_layers.0.", out);
        conv(p + "out_layers.3.", out, out, 3);
        if (in != out) {
            conv(p + "skip_connection.", out, in, 1);
        }
    }

    private void transformer(String p, long c, Unet u, int depth) {
        norm(p + "norm.", c);
        if (u.linearProjection()) {
            linear(p + "proj_in.", c, c, true);
        } else {
            conv(p + "proj_in.", c, c, 1);
        }
        for (int d = 0; d < depth; d++) {
            String b = p + "transformer_blocks." + d + ".";
            for (String attn : List.of("attn1.", "attn2.")) {
                long kv = attn.equals("attn1.") ? c : u.contextDim();
                linear(b + attn + "to_q.", c, c, false);
                linear(b + attn + "to_k.", c, kv, false);
                linear(b + attn + "to_v.", c, kv, false);
                linear(b + attn + "to_out.0.", c, c, true);
            }
            linear(b + "ff.net.0.proj.", 8 * c, c, true);
            linear(b + "ff.net.2.", c, 4 * c, true);
            norm(b + "norm1.", c);
            norm(b + "norm2.", c);
            norm(b + "norm3.", c);
        }
        if (u.linearProjection()) {
            linear(p + "proj_out.", c, c, true);
        } else {
            conv(p + "proj_out.", c, c, 1);
        }
    }

    void vae(long ch, List<Integer> mult, int numResBlocks, long z) {
        String p = "first_stage_model.";
        conv(p + "encoder.conv_in.", ch, 3, 3);
        long in = ch;
        int levels = mult.size();
        for (int i = 0; i < levels; i++) {
            long out = ch * mult.get(i);
            for (int j = 0; j < numResBlocks; j++) {
                vaeResnet(p + "encoder.down." + i + ".block." + j + ".", in, out);
                in = out;
            }
            if (i != levels - 1) {
                conv(p + "encoder.down." + i + ".downsample.conv.", in, in, 3);
            }
        }
        vaeMid(p + "encoder.mid.", in);
        norm(p + "encoder.norm_out.", in);
        conv(p + "encoder.conv_out.", 2 * z, in, 3);
        conv(p + "quant_conv.", 2 * z, 2 * z, 1);
        conv(p + "post_quant_conv.", z, z, 1);
        conv(p + "decoder.conv_in.", in, z, 3);
        vaeMid(p + "decoder.mid.", in);
        for (int i = levels - 1; i >= 0; i--) {
            long out = ch * mult.get(i);
            for (int j = 0; j <= numResBlocks; j++) {
                vaeResnet(p + "decoder.up." + i + ".block." + j + ".", in, out);
                in = out;
            }
            if (i != 0) {
                conv(p + "decoder.up." + i + ".upsample.conv.", in, in, 3);
            }
        }
        norm(p + "decoder.norm_out.", in);
        conv(p + "decoder.conv_out.", 3, in, 3);
    }

    private void vaeResnet(String p, long in, long out) {
        norm(p + "norm1.", in);
        conv(p + "conv1.", out, in, 3);
        norm(p + "norm2.", out);
        conv(p + "conv2.", out, out, 3);
        if (in != out) {
            conv(p + "nin_shortcut.", out, in, 1);
        }
    }

    private void vaeMid(String p, long c) {
        vaeResnet(p + "block_1.", c, c);
        norm(p + "attn_1.norm.", c);
        for (String proj : List.of("q.", "k.", "v.", "proj_out.")) {
            conv(p + "attn_1." + proj, c, c, 1);
        }
        vaeResnet(p + "block_2.", c, c);
    }

    void clipText(long vocab, long hidden, long positions, int layers, long intermediate) {
        String p = "cond_stage_model.transformer.text_model.";
        put(p + "embeddings.position_ids", 1, positions);
        put(p + "embeddings.token_embedding.weight", vocab, hidden);
        put(p + "embeddings.position_embedding.weight", positions, hidden);
        for (int i = 0; i < layers; i++) {
            String l = p + "encoder.layers." + i + ".";
            for (String proj : List.of("q_proj.", "k_proj.", "v_proj.", "out_proj.")) {
                linear(l + "self_attn." + proj, hidden, hidden, true);
            }
            norm(l + "layer_norm1.", hidden);
            linear(l + "mlp.fc1.", intermediate, hidden, true);
            linear(l + "mlp.fc2.", hidden, intermediate, true);
            norm(l + "layer_norm2.", hidden);
        }
        norm(p + "final_layer_norm.", hidden);
    }

    void openClipText(long vocab, long hidden, long positions, int blocks, long intermediate) {
        String p = "cond_stage_model.model.";
        put(p + "positional_embedding", positions, hidden);
        put(p + "text_projection", hidden, hidden);
        put(p + "logit_scale");
        put(p + "token_embedding.weight", vocab, hidden);
        for (int i = 0; i < blocks; i++) {
            String b = p + "transformer.resblocks." + i + ".";
            norm(b + "ln_1.", hidden);
            put(b + "attn.in_proj_weight", 3 * hidden, hidden);
            put(b + "attn.in_proj_bias", 3 * hidden);
            linear(b + "attn.out_proj.", hidden, hidden, true);
            norm(b + "ln_2.", hidden);
            linear(b + "mlp.c_fc.", intermediate, hidden, true);
            linear(b + "mlp.c_proj.", hidden, intermediate, true);
        }
        norm(p + "ln_final.", hidden);
    }

    @Override
    public Set<String> names() {
        return shapes.keySet();
    }

    @Override
    public long[] shape(String name) throws IOException {
        long[] shape = shapes.get(name);
        if (shape == null) {
            throw new IOException("synthetic checkpoint: no tensor '" + name + "'");
        }
        return shape.clone();
    }

    @Override
    public float[] floats(String name) {
        throw new UnsupportedOperationException("synthetic checkpoint holds shapes only");
    }

    @Override
    public String description() {
        return "synthetic checkpoint";
    }
}
