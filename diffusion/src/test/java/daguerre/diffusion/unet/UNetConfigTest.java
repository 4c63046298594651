package daguerre.diffusion.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.weights.Golden;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Expectations come from each case's config.json: level count, head counts and projections are read, not assumed. */
class UNetConfigTest {

    @Test
    void sd1HeadCountIsOneNumberForEveryLevel() {
        JsonNode json = Golden.json("unet_tiny", "config.json");
        UNetConfig config = UNetConfig.fromJson(json);
        assertEquals(json.get("block_out_channels").size(), config.levels());
        List<Integer> heads = headsPerLevel(json);
        for (int i = 0; i < config.levels(); i++) {
            assertEquals(heads.get(i), config.downHeads(i));
            assertEquals(heads.get(config.levels() - 1 - i), config.upHeads(i));
        }
        assertEquals(heads.get(config.levels() - 1), config.midHeads());
        // diffusers: time_embedding_dim or 4 * block_out_channels[0]
        JsonNode timeDim = json.path("time_embedding_dim");
        assertEquals(timeDim.isNumber() ? timeDim.intValue() : 4 * json.get("block_out_channels").get(0).intValue(),
                config.timeEmbeddingDim());
    }

    @Test
    void sd2HeadCountsFollowTheChannelsThroughTheUpBlocks() {
        JsonNode json = Golden.json("unet_tiny_v2", "config.json");
        UNetConfig config = UNetConfig.fromJson(json);
        List<Integer> heads = headsPerLevel(json);
        assertEquals(heads, config.attentionHeads());
        int last = heads.size() - 1;
        assertEquals(heads.get(last), config.midHeads());
        for (int i = 0; i <= last; i++) {
            assertEquals(heads.get(i), config.downHeads(i));
            assertEquals(heads.get(last - i), config.upHeads(i));
        }
        assertEquals(json.path("use_linear_projection").asBoolean(false), config.useLinearProjection());
    }

    /**
     * Heads per level as diffusers reads a config: {@code num_attention_heads}, else (the historical
     * misnomer) {@code attention_head_dim}; one number stands for every level.
     */
    private static List<Integer> headsPerLevel(JsonNode json) {
        JsonNode heads = json.path("num_attention_heads").isNull() || json.path("num_attention_heads").isMissingNode()
                ? json.get("attention_head_dim") : json.get("num_attention_heads");
        int levels = json.get("block_out_channels").size();
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < levels; i++) {
            out.add(heads.isArray() ? heads.get(i).intValue() : heads.intValue());
        }
        return out;
    }

    /**
     * SDXL: transformer depth per level by diffusers' rule (down i: [i], up i: reversed[i], mid:
     * [-1]; one number stands for every level), checked against the case's key_map table too, and
     * the "text_time" sizes.
     */
    @Test
    void sdxlTransformerDepthPerLevelAndTextTime() {
        JsonNode json = Golden.json("unet_tiny_xl", "config.json");
        UNetConfig config = UNetConfig.fromJson(json);
        int levels = json.get("block_out_channels").size();
        List<Integer> depth = perLevel(json.get("transformer_layers_per_block"), levels);
        List<Integer> heads = headsPerLevel(json);
        assertEquals(depth, config.transformerLayers());
        for (int i = 0; i < levels; i++) {
            assertEquals(depth.get(i), config.downTransformerLayers(i));
            assertEquals(depth.get(levels - 1 - i), config.upTransformerLayers(i));
        }
        assertEquals(depth.get(levels - 1), config.midTransformerLayers());

        JsonNode table = Golden.json("unet_tiny_xl", "key_map.json").get("transformers_(module,channels,depth,heads,head_dim)");
        assertTrue(table != null && table.size() > 0, "unet_tiny_xl/key_map.json has no transformer table");
        for (JsonNode row : table) {
            String[] module = row.get("module").asText().split("\\.");
            int ourDepth;
            int ourHeads;
            if (module[0].equals("mid_block")) {
                ourDepth = config.midTransformerLayers();
                ourHeads = config.midHeads();
            } else if (module[0].equals("down_blocks")) {
                ourDepth = config.downTransformerLayers(Integer.parseInt(module[1]));
                ourHeads = config.downHeads(Integer.parseInt(module[1]));
            } else {
                ourDepth = config.upTransformerLayers(Integer.parseInt(module[1]));
                ourHeads = config.upHeads(Integer.parseInt(module[1]));
            }
            assertEquals(row.get("depth").asInt(), ourDepth, "depth of " + row.get("module"));
            assertEquals(row.get("heads").asInt(), ourHeads, "heads of " + row.get("module"));
        }

        assertEquals(json.get("addition_embed_type").asText(), UNetConfig.TEXT_TIME);
        assertTrue(config.hasTextTime());
        assertEquals(json.get("addition_time_embed_dim").asInt(), config.textTime().timeEmbedDim());
        assertEquals(json.get("projection_class_embeddings_input_dim").asInt(), config.textTime().inputDim());

        // one number stands for every level
        ObjectNode uniform = ((ObjectNode) json.deepCopy()).put("transformer_layers_per_block", 3);
        assertEquals(java.util.Collections.nCopies(levels, 3), UNetConfig.fromJson(uniform).transformerLayers());
        assertEquals(3, UNetConfig.fromJson(uniform).transformerLayersPerBlock());
        // SD 1.x/2.x: no added conditioning, one depth everywhere
        UNetConfig sd = UNetConfig.fromJson(Golden.json("unet_tiny", "config.json"));
        assertTrue(!sd.hasTextTime() && sd.textTime() == null);
        assertEquals(1, sd.transformerLayersPerBlock());
    }

    private static List<Integer> perLevel(JsonNode node, int levels) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < levels; i++) {
            out.add(node == null || node.isNull() ? 1 : node.isArray() ? node.get(i).intValue() : node.intValue());
        }
        return out;
    }

    @Test
    void sdxlOptionsAreRangeChecked() {
        JsonNode xl = Golden.json("unet_tiny_xl", "config.json");
        int levels = xl.get("block_out_channels").size();

        ObjectNode wrongLength = xl.deepCopy();
        wrongLength.putArray("transformer_layers_per_block").add(1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(wrongLength));
        assertTrue(e.getMessage().contains("transformer_layers_per_block"), e.getMessage());

        // the last level feeds the mid block's transformer: it needs at least one block
        ObjectNode zeroDepth = xl.deepCopy();
        ArrayNode depths = zeroDepth.putArray("transformer_layers_per_block");
        for (int i = 0; i < levels; i++) {
            depths.add(i == levels - 1 ? 0 : 1);
        }
        e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(zeroDepth));
        assertTrue(e.getMessage().contains("transformer_layers_per_block[" + (levels - 1) + "]"), e.getMessage());

        ObjectNode tooDeep = ((ObjectNode) xl.deepCopy()).put("transformer_layers_per_block", 100000);
        e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(tooDeep));
        assertTrue(e.getMessage().contains("transformer_layers_per_block"), e.getMessage());

        ObjectNode notInts = xl.deepCopy();
        notInts.putArray("transformer_layers_per_block").add("two");
        e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(notInts));
        assertTrue(e.getMessage().contains("transformer_layers_per_block"), e.getMessage());

        for (String key : List.of("addition_time_embed_dim", "projection_class_embeddings_input_dim")) {
            ObjectNode zero = ((ObjectNode) xl.deepCopy()).put(key, 0);
            e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(zero));
            assertTrue(e.getMessage().contains(key), e.getMessage());
            ObjectNode missing = xl.deepCopy();
            missing.remove(key);
            e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(missing));
            assertTrue(e.getMessage().contains(key), e.getMessage());
        }
    }

    @Test
    void refusesOptionsOfOtherModelFamilies() {
        // text_time needs its sizes
        ObjectNode sdxl = ((ObjectNode) Golden.json("unet_tiny", "config.json")).put("addition_embed_type", "text_time");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(sdxl));
        assertTrue(e.getMessage().contains("addition_time_embed_dim"), e.getMessage());

        // other added embeddings (Kandinsky's "text", "image", ...) are refused
        for (String type : List.of("text", "text_image", "image", "image_hint")) {
            ObjectNode other = ((ObjectNode) Golden.json("unet_tiny_xl", "config.json")).put("addition_embed_type", type);
            e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(other));
            assertTrue(e.getMessage().contains("addition_embed_type") && e.getMessage().contains(type), e.getMessage());
        }

        // the added sizes without addition_embed_type build nothing in diffusers: refused, naming the key
        ObjectNode orphan = ((ObjectNode) Golden.json("unet_tiny", "config.json")).put("addition_time_embed_dim", 8);
        e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(orphan));
        assertTrue(e.getMessage().contains("addition_time_embed_dim"), e.getMessage());

        for (String key : List.of("time_cond_proj_dim", "encoder_hid_dim", "num_class_embeds")) {
            ObjectNode unsupported = ((ObjectNode) Golden.json("unet_tiny_xl", "config.json")).put(key, 8);
            e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(unsupported));
            assertTrue(e.getMessage().contains(key), e.getMessage());
        }

        ObjectNode classEmbed = ((ObjectNode) Golden.json("unet_tiny", "config.json")).put("class_embed_type", "timestep");
        e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(classEmbed));
        assertTrue(e.getMessage().contains("class_embed_type"), e.getMessage());

        // the case's own down blocks, whatever their number, with the first one swapped for another family's
        ObjectNode otherBlock = (ObjectNode) Golden.json("unet_tiny", "config.json");
        ArrayNode downBlocks = (ArrayNode) otherBlock.get("down_block_types");
        assertTrue(downBlocks.size() >= 1, "unet_tiny/config.json lists no down blocks");
        downBlocks.set(0, "SimpleCrossAttnDownBlock2D");
        e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(otherBlock));
        assertTrue(e.getMessage().contains("SimpleCrossAttnDownBlock2D"), e.getMessage());
    }

    @Test
    void missingKeysTakeDiffusersDefaults() throws Exception {
        UNetConfig config = UNetConfig.fromJson(new ObjectMapper().readTree("{}"));
        assertEquals(List.of(320, 640, 1280, 1280), config.blockOutChannels());
        assertEquals(List.of(8, 8, 8, 8), config.attentionHeads());
        assertEquals(1280, config.crossAttentionDim());
        assertEquals(1e-5f, config.normEps());
        assertTrue(config.flipSinToCos());
    }
}
