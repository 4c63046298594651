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

    @Test
    void refusesOptionsOfOtherModelFamilies() {
        ObjectNode sdxl = ((ObjectNode) Golden.json("unet_tiny", "config.json")).put("addition_embed_type", "text_time");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(sdxl));
        assertTrue(e.getMessage().contains("addition_embed_type"), e.getMessage());

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
