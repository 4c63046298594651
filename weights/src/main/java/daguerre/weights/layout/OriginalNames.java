package daguerre.weights.layout;

import static daguerre.weights.layout.RenameRule.rule;

import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.MatchResult;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The inverse of {@link OriginalLayouts}: the original single-file (CompVis / LDM) name of each
 * canonical diffusers / transformers tensor, for writing a model as one original-layout
 * {@code .safetensors} file. The same short ordered rules, read the other way; the numbering of
 * the LDM blocks is derived from the canonical names themselves (resnets per level, levels with
 * attention), so any SD 1.x-shaped model is covered. Tests check that {@link OriginalLayouts}'
 * views map every name back.
 */
public final class OriginalNames {

    private static final Pattern DOWN_RESNET = Pattern.compile("down_blocks\\.0\\.resnets\\.(\\d+)\\.");
    private static final Pattern UP_ATTENTION = Pattern.compile("up_blocks\\.(\\d+)\\.attentions\\.");
    private static final Pattern VAE_LEVEL = Pattern.compile("encoder\\.down_blocks\\.(\\d+)\\.");
    private static final Pattern VAE_ATTENTION_PROJECTION =
            Pattern.compile("(encoder|decoder)\\.mid_block\\.attentions\\.0\\.(to_q|to_k|to_v|to_out\\.0)\\.weight");

    private OriginalNames() {}

    /**
     * Original names ({@code model.diffusion_model.*}) of a U-Net's canonical tensor names, in the
     * given order; fails naming a key that is not part of an SD 1.x/2.x or SDXL U-Net.
     */
    public static Map<String, String> unet(Collection<String> canonical) {
        int resnetsPerLevel = 0;
        Set<Integer> upLevelsWithAttention = new HashSet<>();
        for (String name : canonical) {
            Matcher r = DOWN_RESNET.matcher(name);
            if (r.lookingAt()) {
                resnetsPerLevel = Math.max(resnetsPerLevel, Integer.parseInt(r.group(1)) + 1);
            }
            Matcher a = UP_ATTENTION.matcher(name);
            if (a.lookingAt()) {
                upLevelsWithAttention.add(Integer.parseInt(a.group(1)));
            }
        }
        if (resnetsPerLevel == 0) {
            throw new IllegalArgumentException("no 'down_blocks.0.resnets.*' among the U-Net's tensor names");
        }
        int n = resnetsPerLevel + 1;
        RenameRule[] resnet = {
            rule("norm1\\.", "in_layers.0."),
            rule("conv1\\.", "in_layers.2."),
            rule("time_emb_proj\\.", "emb_layers.1."),
            rule("norm2\\.", "out_layers.0."),
            rule("conv2\\.", "out_layers.3."),
            rule("conv_shortcut\\.", "skip_connection.")
        };
        List<RenameRule> rules = List.of(
                rule("time_embedding\\.linear_1\\.", "time_embed.0."),
                rule("time_embedding\\.linear_2\\.", "time_embed.2."),
                rule("add_embedding\\.linear_1\\.", "label_emb.0.0."),
                rule("add_embedding\\.linear_2\\.", "label_emb.0.2."),
                rule("conv_in\\.", "input_blocks.0.0."),
                rule("down_blocks\\.(\\d+)\\.resnets\\.(\\d+)\\.", m -> "input_blocks." + (n * index(m, 1) + index(m, 2) + 1) + ".0.")
                        .then(resnet),
                rule("down_blocks\\.(\\d+)\\.attentions\\.(\\d+)\\.", m -> "input_blocks." + (n * index(m, 1) + index(m, 2) + 1) + ".1."),
                rule("down_blocks\\.(\\d+)\\.downsamplers\\.0\\.conv\\.", m -> "input_blocks." + n * (index(m, 1) + 1) + ".0.op."),
                rule("mid_block\\.resnets\\.0\\.", "middle_block.0.").then(resnet),
                rule("mid_block\\.attentions\\.0\\.", "middle_block.1."),
                rule("mid_block\\.resnets\\.1\\.", "middle_block.2.").then(resnet),
                rule("up_blocks\\.(\\d+)\\.resnets\\.(\\d+)\\.", m -> "output_blocks." + (n * index(m, 1) + index(m, 2)) + ".0.")
                        .then(resnet),
                rule("up_blocks\\.(\\d+)\\.attentions\\.(\\d+)\\.", m -> "output_blocks." + (n * index(m, 1) + index(m, 2)) + ".1."),
                // the upsampler follows the level's last resnet, and its transformer if the level has one
                rule("up_blocks\\.(\\d+)\\.upsamplers\\.0\\.conv\\.", m -> "output_blocks." + (n * index(m, 1) + n - 1) + "."
                        + (upLevelsWithAttention.contains(index(m, 1)) ? 2 : 1) + ".conv."),
                rule("conv_norm_out\\.", "out.0."),
                rule("conv_out\\.", "out.2."));
        return rename(canonical, OriginalLayouts.UNET_PREFIX, rules, "U-Net");
    }

    /**
     * Original names ({@code first_stage_model.*}) of a VAE's canonical tensor names. The decoder
     * counts levels the other way ({@code decoder.up_blocks.i} is {@code decoder.up.(levels-1-i)}).
     */
    public static Map<String, String> vae(Collection<String> canonical) {
        int levels = 0;
        for (String name : canonical) {
            Matcher m = VAE_LEVEL.matcher(name);
            if (m.lookingAt()) {
                levels = Math.max(levels, Integer.parseInt(m.group(1)) + 1);
            }
        }
        if (levels == 0) {
            throw new IllegalArgumentException("no 'encoder.down_blocks.*' among the VAE's tensor names");
        }
        int count = levels;
        RenameRule[] resnet = {
            rule("(norm1|conv1|norm2|conv2)\\.", "$1."),
            rule("conv_shortcut\\.", "nin_shortcut.")
        };
        RenameRule[] attention = {
            rule("group_norm\\.", "norm."),
            rule("to_q\\.", "q."),
            rule("to_k\\.", "k."),
            rule("to_v\\.", "v."),
            rule("to_out\\.0\\.", "proj_out.")
        };
        List<RenameRule> rules = List.of(
                rule("encoder\\.down_blocks\\.(\\d+)\\.resnets\\.(\\d+)\\.", "encoder.down.$1.block.$2.").then(resnet),
                rule("encoder\\.down_blocks\\.(\\d+)\\.downsamplers\\.0\\.conv\\.", "encoder.down.$1.downsample.conv."),
                rule("decoder\\.up_blocks\\.(\\d+)\\.resnets\\.(\\d+)\\.", m -> "decoder.up." + (count - 1 - index(m, 1))
                        + ".block." + index(m, 2) + ".").then(resnet),
                rule("decoder\\.up_blocks\\.(\\d+)\\.upsamplers\\.0\\.conv\\.", m -> "decoder.up." + (count - 1 - index(m, 1))
                        + ".upsample.conv."),
                rule("(encoder|decoder)\\.mid_block\\.resnets\\.0\\.", "$1.mid.block_1.").then(resnet),
                rule("(encoder|decoder)\\.mid_block\\.resnets\\.1\\.", "$1.mid.block_2.").then(resnet),
                rule("(encoder|decoder)\\.mid_block\\.attentions\\.0\\.", "$1.mid.attn_1.").then(attention),
                rule("(encoder|decoder)\\.conv_norm_out\\.", "$1.norm_out."),
                rule("(encoder|decoder)\\.(conv_in|conv_out)\\.", "$1.$2."),
                rule("(quant_conv|post_quant_conv)\\.", "$1."));
        return rename(canonical, OriginalLayouts.VAE_PREFIX, rules, "VAE");
    }

    /** Original names ({@code cond_stage_model.transformer.*}) of an SD 1.x CLIP text encoder's transformers names. */
    public static Map<String, String> clipText(Collection<String> canonical) {
        List<RenameRule> rules = List.of(rule("text_model\\.", "text_model."));
        return rename(canonical, OriginalLayouts.CLIP_TEXT_PREFIX, rules, "text encoder");
    }

    /** Original names ({@code conditioner.embedders.0.transformer.*}) of SDXL's first text encoder: transformers names as they are. */
    public static Map<String, String> sdxlClipText(Collection<String> canonical) {
        List<RenameRule> rules = List.of(rule("text_model\\.", "text_model."));
        return rename(canonical, OriginalLayouts.SDXL_CLIP_TEXT_PREFIX, rules, "text encoder");
    }

    /**
     * One tensor of an OpenCLIP text tower in an original file, made of canonical tensors: their rows
     * one after another ({@code attn.in_proj_weight} = q, k, v), or one tensor transposed
     * ({@code text_projection} [D, P] from transformers' [P, D]).
     */
    public record OpenClipTensor(String original, List<String> canonicalParts, boolean transposed) {}

    private static final Pattern OPEN_CLIP_LAYER = Pattern.compile("text_model\\.encoder\\.layers\\.(\\d+)\\.(.+)");
    private static final Pattern QKV = Pattern.compile("self_attn\\.(q|k|v)_proj\\.(weight|bias)");

    /**
     * The original tensors ({@code conditioner.embedders.1.model.*}) of SDXL's second text encoder
     * from its transformers names, in the order of their first part; the inverse of
     * {@link OriginalLayouts#sdxlOpenClipText}. Fails naming a key that has no OpenCLIP counterpart.
     */
    public static List<OpenClipTensor> sdxlOpenClipText(Collection<String> canonical) {
        String prefix = OriginalLayouts.SDXL_OPEN_CLIP_TEXT_PREFIX;
        Map<String, OpenClipTensor> out = new LinkedHashMap<>();
        Set<String> names = new HashSet<>(canonical);
        for (String name : canonical) {
            Matcher layer = OPEN_CLIP_LAYER.matcher(name);
            String original;
            if (name.equals("text_model.embeddings.token_embedding.weight")) {
                original = "token_embedding.weight";
            } else if (name.equals("text_model.embeddings.position_embedding.weight")) {
                original = "positional_embedding";
            } else if (name.startsWith("text_model.final_layer_norm.")) {
                original = "ln_final." + name.substring("text_model.final_layer_norm.".length());
            } else if (name.equals("text_projection.weight")) {
                out.put(name, new OpenClipTensor(prefix + "text_projection", List.of(name), true));
                continue;
            } else if (layer.matches()) {
                String block = "transformer.resblocks." + layer.group(1) + ".";
                Matcher qkv = QKV.matcher(layer.group(2));
                if (qkv.matches()) {
                    String fused = prefix + block + "attn.in_proj_" + qkv.group(2);
                    String base = "text_model.encoder.layers." + layer.group(1) + ".self_attn.";
                    List<String> parts = List.of(base + "q_proj." + qkv.group(2), base + "k_proj." + qkv.group(2),
                            base + "v_proj." + qkv.group(2));
                    if (!names.containsAll(parts)) {
                        throw new IllegalArgumentException("text encoder tensor '" + name + "': the fused " + fused
                                + " needs all of " + parts);
                    }
                    out.putIfAbsent(fused, new OpenClipTensor(fused, parts, false));
                    continue;
                }
                original = block + openClipLayerPart(name, layer.group(2));
            } else {
                throw new IllegalArgumentException("text encoder tensor '" + name + "' has no OpenCLIP single-file name");
            }
            out.put(name, new OpenClipTensor(prefix + original, List.of(name), false));
        }
        return List.copyOf(out.values());
    }

    private static String openClipLayerPart(String name, String part) {
        String[][] renames = {
            {"layer_norm1.", "ln_1."}, {"layer_norm2.", "ln_2."}, {"self_attn.out_proj.", "attn.out_proj."},
            {"mlp.fc1.", "mlp.c_fc."}, {"mlp.fc2.", "mlp.c_proj."}};
        for (String[] r : renames) {
            if (part.startsWith(r[0])) {
                return r[1] + part.substring(r[0].length());
            }
        }
        throw new IllegalArgumentException("text encoder tensor '" + name + "' has no OpenCLIP single-file name");
    }

    /**
     * The shape a canonical VAE tensor has in an original file: the mid-block attention's q/k/v/out
     * projections are 1x1 convolutions there ([out, in] -> [out, in, 1, 1]); every other shape is
     * unchanged.
     */
    public static long[] vaeOriginalShape(String canonical, long[] shape) {
        if (VAE_ATTENTION_PROJECTION.matcher(canonical).matches() && shape.length == 2) {
            return new long[] {shape[0], shape[1], 1, 1};
        }
        return shape.clone();
    }

    private static int index(MatchResult m, int group) {
        return Integer.parseInt(m.group(group));
    }

    private static Map<String, String> rename(Collection<String> canonical, String prefix, List<RenameRule> rules,
                                              String component) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String name : canonical) {
            String original;
            try {
                original = RenameRule.apply(rules, name);
            } catch (RenameRule.NoRuleException e) {
                throw new IllegalArgumentException(component + " tensor '" + name
                        + "' has no original single-file name (no rule for '" + e.getMessage() + "')");
            }
            out.put(name, prefix + original);
        }
        return out;
    }
}
