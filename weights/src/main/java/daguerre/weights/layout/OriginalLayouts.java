package daguerre.weights.layout;

import static daguerre.weights.layout.RenameRule.ignore;
import static daguerre.weights.layout.RenameRule.rule;

import daguerre.weights.TensorSource;
import java.io.IOException;
import java.util.List;
import java.util.regex.MatchResult;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The original single-file (CompVis / Stability-AI LDM) checkpoint layouts, seen under the canonical
 * diffusers / transformers key names by short, ordered rename rules derived from the model's shape.
 *
 * <p>Rules are tried in order at the start of each key (after the component prefix); the first
 * that matches rewrites the matched part, and its inner rules, if any, rewrite the next part.
 * A key under the component prefix that no rule accepts is an error naming the key; keys under
 * other prefixes (other components, EMA copies, schedule buffers) are not part of the view.
 */
public final class OriginalLayouts {

    /** Prefix of the U-Net in an original file. */
    public static final String UNET_PREFIX = "model.diffusion_model.";
    /** Prefix of the VAE in an original file. */
    public static final String VAE_PREFIX = "first_stage_model.";
    /** Prefix of the SD 1.x CLIP text encoder (transformers names after the prefix). */
    public static final String CLIP_TEXT_PREFIX = "cond_stage_model.transformer.";
    /** Prefix of the SD 2.x OpenCLIP text tower. */
    public static final String OPEN_CLIP_TEXT_PREFIX = "cond_stage_model.model.";
    /** Prefix of SDXL's first text encoder (OpenAI CLIP ViT-L, transformers names) in an SGM file. */
    public static final String SDXL_CLIP_TEXT_PREFIX = "conditioner.embedders.0.transformer.";
    /** Prefix of SDXL's second text encoder (OpenCLIP ViT-bigG, OpenCLIP names) in an SGM file. */
    public static final String SDXL_OPEN_CLIP_TEXT_PREFIX = "conditioner.embedders.1.model.";

    private static final Pattern INPUT_BLOCK = Pattern.compile("input_blocks\\.(\\d+)\\.");
    private static final Pattern DOWNSAMPLER = Pattern.compile("input_blocks\\.(\\d+)\\.0\\.op\\.");
    private static final Pattern VAE_DOWN_LEVEL = Pattern.compile("encoder\\.down\\.(\\d+)\\.");
    private static final Pattern RESBLOCK = Pattern.compile("transformer\\.resblocks\\.(\\d+)\\.");

    /** VAE mid-block attention projections: 1x1 convolutions in LDM files, linear layers in diffusers. */
    private static final Pattern VAE_ATTENTION_PROJECTION =
            Pattern.compile("(encoder|decoder)\\.mid_block\\.attentions\\.0\\.(to_q|to_k|to_v|to_out\\.0)\\.weight");
    /** OpenCLIP's fused query/key/value projection, split into transformers' three projections. */
    private static final Pattern FUSED_QKV = Pattern.compile("(.*)\\.self_attn\\.in_proj_(weight|bias)");

    private OriginalLayouts() {}

    /** Whether {@code source} holds any key under {@code prefix}. */
    public static boolean hasPrefix(TensorSource source, String prefix) {
        return source.names().stream().anyMatch(name -> name.startsWith(prefix));
    }

    // ---------------------------------------------------------------- U-Net

    /**
     * Resnets per down level of an original U-Net: the first downsampler sits at
     * {@code input_blocks[layers_per_block + 1]}; a single-level U-Net has none, and then every
     * input block after {@code conv_in} is a resnet.
     */
    public static int unetLayersPerBlock(TensorSource original) throws IOException {
        int firstDownsampler = Integer.MAX_VALUE;
        int lastInputBlock = -1;
        for (String name : original.names()) {
            if (!name.startsWith(UNET_PREFIX)) {
                continue;
            }
            String key = name.substring(UNET_PREFIX.length());
            Matcher d = DOWNSAMPLER.matcher(key);
            if (d.lookingAt()) {
                firstDownsampler = Math.min(firstDownsampler, Integer.parseInt(d.group(1)));
            }
            Matcher b = INPUT_BLOCK.matcher(key);
            if (b.lookingAt()) {
                lastInputBlock = Math.max(lastInputBlock, Integer.parseInt(b.group(1)));
            }
        }
        int layers = firstDownsampler != Integer.MAX_VALUE ? firstDownsampler - 1 : lastInputBlock;
        if (layers < 1) {
            throw new IOException(original.description() + ": no U-Net input blocks under '" + UNET_PREFIX + "'");
        }
        return layers;
    }

    /** The U-Net of an original file under diffusers names; layers per block read from the keys. */
    public static RenamedTensorSource unet(TensorSource original) throws IOException {
        return unet(original, unetLayersPerBlock(original));
    }

    /**
     * The U-Net of an original file under diffusers names, for any number of levels and any choice
     * of levels with attention, SD 1.x/2.x (LDM) or SDXL (SGM: {@code label_emb.0.0/2} is
     * {@code add_embedding.linear_1/2}; transformers deeper than one block keep their
     * {@code transformer_blocks.K} index). LDM numbering, with {@code n = layersPerBlock + 1} blocks per level:
     * {@code input_blocks[n*i + j + 1]} is down level i resnet j (its transformer at {@code .1}),
     * {@code input_blocks[n*(i+1)].0.op} the downsampler of level i; {@code output_blocks[n*i + j]}
     * is up level i resnet j ({@code .1} its transformer), and the upsampler of up level i is the
     * {@code conv} after the last resnet ({@code .1} without attention, {@code .2} with it).
     */
    public static RenamedTensorSource unet(TensorSource original, int layersPerBlock) throws IOException {
        int n = layersPerBlock + 1;
        List<RenameRule> resnet = List.of(
                rule("in_layers\\.0\\.", "norm1."),
                rule("in_layers\\.2\\.", "conv1."),
                rule("emb_layers\\.1\\.", "time_emb_proj."),
                rule("out_layers\\.0\\.", "norm2."),
                rule("out_layers\\.3\\.", "conv2."),
                rule("skip_connection\\.", "conv_shortcut."));
        List<RenameRule> rules = List.of(
                rule("time_embed\\.0\\.", "time_embedding.linear_1."),
                rule("time_embed\\.2\\.", "time_embedding.linear_2."),
                // SDXL's added embedding (SGM: label_emb.0 = Sequential(Linear, SiLU, Linear))
                rule("label_emb\\.0\\.0\\.", "add_embedding.linear_1."),
                rule("label_emb\\.0\\.2\\.", "add_embedding.linear_2."),
                rule("input_blocks\\.0\\.0\\.", "conv_in."),
                rule("input_blocks\\.(\\d+)\\.0\\.op\\.", m -> downBlock(m, n, true) + "downsamplers.0.conv."),
                rule("input_blocks\\.(\\d+)\\.0\\.", m -> downBlock(m, n, false) + "resnets." + (index(m) - 1) % n + ".")
                        .then(resnet.toArray(RenameRule[]::new)),
                rule("input_blocks\\.(\\d+)\\.1\\.", m -> downBlock(m, n, false) + "attentions." + (index(m) - 1) % n + "."),
                rule("middle_block\\.0\\.", "mid_block.resnets.0.").then(resnet.toArray(RenameRule[]::new)),
                rule("middle_block\\.1\\.", "mid_block.attentions.0."),
                rule("middle_block\\.2\\.", "mid_block.resnets.1.").then(resnet.toArray(RenameRule[]::new)),
                rule("output_blocks\\.(\\d+)\\.0\\.", m -> upBlock(m, n) + "resnets." + index(m) % n + ".")
                        .then(resnet.toArray(RenameRule[]::new)),
                rule("output_blocks\\.(\\d+)\\.[12]\\.conv\\.", m -> upsampler(m, n)),
                rule("output_blocks\\.(\\d+)\\.1\\.", m -> upBlock(m, n) + "attentions." + index(m) % n + "."),
                rule("out\\.0\\.", "conv_norm_out."),
                rule("out\\.2\\.", "conv_out."));
        RenamedTensorSource.Builder view = RenamedTensorSource.over(original,
                "original LDM U-Net '" + UNET_PREFIX + "*' under diffusers names, " + layersPerBlock + " resnets per level");
        for (String name : original.names()) {
            String canonical = rename(original, UNET_PREFIX, rules, name);
            if (canonical != null) {
                view.put(canonical, name);
            }
        }
        return view.build();
    }

    private static int index(MatchResult m) {
        return Integer.parseInt(m.group(1));
    }

    /** {@code down_blocks.i.} for input block k = n*i + j + 1; a resnet or attention needs j < n-1, a downsampler j = n-1. */
    private static String downBlock(MatchResult m, int n, boolean downsampler) {
        int k = index(m) - 1;
        boolean last = k % n == n - 1;
        if (last != downsampler) {
            throw new IllegalArgumentException("input block " + (k + 1) + " holds " + (downsampler ? "a downsampler" : "a resnet or attention")
                    + ", which the LDM numbering for " + (n - 1) + " resnets per level does not allow there");
        }
        return "down_blocks." + k / n + ".";
    }

    private static String upBlock(MatchResult m, int n) {
        return "up_blocks." + index(m) / n + ".";
    }

    private static String upsampler(MatchResult m, int n) {
        int k = index(m);
        if (k % n != n - 1) {
            throw new IllegalArgumentException("output block " + k + " holds an upsampler, which only the last block of a level "
                    + "(output_blocks[" + n + "*i + " + (n - 1) + "]) may hold");
        }
        return upBlock(m, n) + "upsamplers.0.conv.";
    }

    // ---------------------------------------------------------------- VAE

    /** Number of resolution levels of an original VAE: the encoder's {@code down.i} count. */
    public static int vaeLevels(TensorSource original) throws IOException {
        return vaeLevels(original, VAE_PREFIX);
    }

    private static int vaeLevels(TensorSource original, String prefix) throws IOException {
        int levels = 0;
        for (String name : original.names()) {
            if (name.startsWith(prefix)) {
                Matcher m = VAE_DOWN_LEVEL.matcher(name.substring(prefix.length()));
                if (m.lookingAt()) {
                    levels = Math.max(levels, Integer.parseInt(m.group(1)) + 1);
                }
            }
        }
        if (levels == 0) {
            throw new IOException(original.description() + ": no VAE encoder levels under '" + prefix + "encoder.down.*'");
        }
        return levels;
    }

    /**
     * The VAE of an original file under diffusers names. The decoder counts levels the other way:
     * {@code decoder.up.k} is {@code decoder.up_blocks[levels-1-k]}. The mid-block attention's
     * 1x1-convolution q/k/v/proj_out weights are presented squeezed to diffusers' linear shape.
     */
    public static RenamedTensorSource vae(TensorSource original) throws IOException {
        return vae(original, VAE_PREFIX);
    }

    /**
     * An original-layout VAE under {@code prefix}: {@link #VAE_PREFIX} in a full checkpoint, or
     * {@code ""} in a standalone VAE file such as {@code vae-ft-mse-840000-ema-pruned.safetensors}.
     */
    public static RenamedTensorSource vae(TensorSource original, String prefix) throws IOException {
        int levels = vaeLevels(original, prefix);
        RenameRule[] resnet = {
            rule("(norm1|conv1|norm2|conv2)\\.", "$1."),
            rule("nin_shortcut\\.", "conv_shortcut.")
        };
        RenameRule[] attention = {
            rule("norm\\.", "group_norm."),
            rule("q\\.", "to_q."),
            rule("k\\.", "to_k."),
            rule("v\\.", "to_v."),
            rule("proj_out\\.", "to_out.0.")
        };
        List<RenameRule> rules = List.of(
                rule("encoder\\.down\\.(\\d+)\\.block\\.(\\d+)\\.", "encoder.down_blocks.$1.resnets.$2.").then(resnet),
                rule("encoder\\.down\\.(\\d+)\\.downsample\\.conv\\.", "encoder.down_blocks.$1.downsamplers.0.conv."),
                rule("decoder\\.up\\.(\\d+)\\.block\\.(\\d+)\\.", m -> decoderLevel(m, levels) + "resnets." + m.group(2) + ".")
                        .then(resnet),
                rule("decoder\\.up\\.(\\d+)\\.upsample\\.conv\\.", m -> decoderLevel(m, levels) + "upsamplers.0.conv."),
                rule("(encoder|decoder)\\.mid\\.block_1\\.", "$1.mid_block.resnets.0.").then(resnet),
                rule("(encoder|decoder)\\.mid\\.block_2\\.", "$1.mid_block.resnets.1.").then(resnet),
                rule("(encoder|decoder)\\.mid\\.attn_1\\.", "$1.mid_block.attentions.0.").then(attention),
                rule("(encoder|decoder)\\.norm_out\\.", "$1.conv_norm_out."),
                rule("(encoder|decoder)\\.(conv_in|conv_out)\\.", "$1.$2."),
                rule("(quant_conv|post_quant_conv)\\.", "$1."),
                ignore("loss\\."));
        RenamedTensorSource.Builder view = RenamedTensorSource.over(original,
                "original LDM VAE '" + prefix + "*' under diffusers names");
        for (String name : original.names()) {
            String canonical = rename(original, prefix, rules, name);
            if (canonical == null) {
                continue;
            }
            if (VAE_ATTENTION_PROJECTION.matcher(canonical).matches() && original.shape(name).length == 4) {
                view.putSqueezed(canonical, name);
            } else {
                view.put(canonical, name);
            }
        }
        return view.build();
    }

    private static String decoderLevel(MatchResult m, int levels) {
        int k = index(m);
        if (k >= levels) {
            throw new IllegalArgumentException("decoder level " + k + " but the encoder has only " + levels + " levels");
        }
        return "decoder.up_blocks." + (levels - 1 - k) + ".";
    }

    // ---------------------------------------------------------------- text encoders

    /**
     * The SD 1.x text encoder of an original file: transformers names after the prefix (old files
     * without the {@code text_model.} level get it added); the {@code position_ids} buffer is ignored.
     */
    public static RenamedTensorSource clipText(TensorSource original) throws IOException {
        return clipText(original, CLIP_TEXT_PREFIX);
    }

    /**
     * An OpenAI CLIP text encoder with transformers names under {@code prefix}: {@link #CLIP_TEXT_PREFIX}
     * (SD 1.x) or {@link #SDXL_CLIP_TEXT_PREFIX} (SDXL's {@code text_encoder}).
     */
    public static RenamedTensorSource clipText(TensorSource original, String prefix) throws IOException {
        List<RenameRule> rules = List.of(
                ignore("(text_model\\.)?embeddings\\.position_ids$"),
                rule("text_model\\.", "text_model."),
                rule("(embeddings|encoder|final_layer_norm)\\.", "text_model.$1."));
        RenamedTensorSource.Builder view = RenamedTensorSource.over(original,
                "original CLIP text encoder '" + prefix + "*'");
        for (String name : original.names()) {
            String canonical = rename(original, prefix, rules, name);
            if (canonical != null) {
                view.put(canonical, name);
            }
        }
        return view.build();
    }

    /** Number of OpenCLIP residual blocks ({@code transformer.resblocks.i}) in an original SD 2.x file. */
    public static int openClipResblocks(TensorSource original) throws IOException {
        return openClipResblocks(original, OPEN_CLIP_TEXT_PREFIX);
    }

    /** Number of OpenCLIP residual blocks under {@code prefix}. */
    public static int openClipResblocks(TensorSource original, String prefix) throws IOException {
        int blocks = 0;
        for (String name : original.names()) {
            if (name.startsWith(prefix)) {
                Matcher m = RESBLOCK.matcher(name.substring(prefix.length()));
                if (m.lookingAt()) {
                    blocks = Math.max(blocks, Integer.parseInt(m.group(1)) + 1);
                }
            }
        }
        if (blocks == 0) {
            throw new IOException(original.description() + ": no OpenCLIP blocks under '"
                    + prefix + "transformer.resblocks.*'");
        }
        return blocks;
    }

    /**
     * The SD 2.x OpenCLIP text tower of an original file as a transformers {@code CLIPTextModel} with
     * {@code numHiddenLayers} layers: {@code attn.in_proj_weight/bias} split into q/k/v row thirds,
     * {@code c_fc}/{@code c_proj} as {@code fc1}/{@code fc2}, {@code ln_1}/{@code ln_2} as the layer
     * norms; {@code text_projection}, {@code logit_scale} and blocks from {@code numHiddenLayers} on
     * are ignored (SD 2.x conditions on the penultimate block, so real files hold one more).
     */
    public static RenamedTensorSource openClipText(TensorSource original, int numHiddenLayers) throws IOException {
        return openClipText(original, OPEN_CLIP_TEXT_PREFIX, numHiddenLayers, false);
    }

    /**
     * SDXL's second text encoder of an SGM file ({@link #SDXL_OPEN_CLIP_TEXT_PREFIX}) as a transformers
     * {@code CLIPTextModelWithProjection}: every block, and {@code text_projection} [D, P] transposed to
     * {@code text_projection.weight} [P, D] (OpenCLIP computes {@code pooled @ text_projection}).
     */
    public static RenamedTensorSource sdxlOpenClipText(TensorSource original) throws IOException {
        return openClipText(original, SDXL_OPEN_CLIP_TEXT_PREFIX,
                openClipResblocks(original, SDXL_OPEN_CLIP_TEXT_PREFIX), true);
    }

    /**
     * An OpenCLIP text tower under {@code prefix} as a transformers text model with {@code numHiddenLayers}
     * layers; with {@code withProjection}, {@code text_projection} becomes {@code text_projection.weight}
     * (transposed), else it is ignored.
     */
    public static RenamedTensorSource openClipText(TensorSource original, String prefix, int numHiddenLayers,
                                                   boolean withProjection) throws IOException {
        int available = openClipResblocks(original, prefix);
        if (numHiddenLayers < 1 || numHiddenLayers > available) {
            throw new IOException(original.description() + ": asked for " + numHiddenLayers
                    + " text encoder layers but the file holds " + available + " OpenCLIP blocks");
        }
        RenameRule[] layer = {
            rule("ln_1\\.", "layer_norm1."),
            rule("ln_2\\.", "layer_norm2."),
            rule("attn\\.in_proj_(weight|bias)$", "self_attn.in_proj_$1"),
            rule("attn\\.out_proj\\.", "self_attn.out_proj."),
            rule("mlp\\.c_fc\\.", "mlp.fc1."),
            rule("mlp\\.c_proj\\.", "mlp.fc2.")
        };
        List<RenameRule> rules = List.of(
                rule("token_embedding\\.", "text_model.embeddings.token_embedding."),
                rule("positional_embedding$", "text_model.embeddings.position_embedding.weight"),
                rule("ln_final\\.", "text_model.final_layer_norm."),
                rule("transformer\\.resblocks\\.(\\d+)\\.",
                        m -> index(m) < numHiddenLayers ? "text_model.encoder.layers." + index(m) + "." : null).then(layer),
                withProjection ? rule("text_projection$", "text_projection.weight") : ignore("text_projection$"),
                ignore("logit_scale$"),
                ignore("attn_mask$"));
        RenamedTensorSource.Builder view = RenamedTensorSource.over(original,
                "original OpenCLIP text tower '" + prefix + "*' under transformers names, "
                        + numHiddenLayers + " layers" + (withProjection ? " and text_projection" : ""));
        for (String name : original.names()) {
            String canonical = rename(original, prefix, rules, name);
            if (canonical == null) {
                continue;
            }
            if (canonical.equals("text_projection.weight")) {
                view.putTransposed(canonical, name);
                continue;
            }
            Matcher fused = FUSED_QKV.matcher(canonical);
            if (fused.matches()) {
                String[] projections = {"q_proj", "k_proj", "v_proj"};
                for (int part = 0; part < 3; part++) {
                    view.putRows(fused.group(1) + ".self_attn." + projections[part] + "." + fused.group(2), name, part, 3);
                }
            } else {
                view.put(canonical, name);
            }
        }
        return view.build();
    }

    // ---------------------------------------------------------------- shared

    /**
     * The canonical name of {@code name}, or {@code null} if it lies outside {@code prefix} or is
     * ignored; fails naming the key when no rule accepts it.
     */
    private static String rename(TensorSource original, String prefix, List<RenameRule> rules, String name)
            throws IOException {
        if (!name.startsWith(prefix)) {
            return null;
        }
        try {
            return RenameRule.apply(rules, name.substring(prefix.length()));
        } catch (RenameRule.NoRuleException e) {
            throw new IOException(original.description() + ": tensor '" + name + "' is not part of the "
                    + prefix + "* layout Daguerre knows (no rename rule for '" + e.getMessage() + "')");
        } catch (IllegalArgumentException e) {
            throw new IOException(original.description() + ": tensor '" + name + "': " + e.getMessage());
        }
    }
}
