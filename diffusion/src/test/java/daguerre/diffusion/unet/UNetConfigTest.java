package daguerre.diffusion.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.weights.Golden;
import java.util.List;
import org.junit.jupiter.api.Test;

class UNetConfigTest {

    @Test
    void sd1HeadCountIsOneNumberForEveryLevel() {
        UNetConfig config = UNetConfig.fromJson(Golden.json("unet_tiny", "config.json"));
        int heads = Golden.json("unet_tiny", "config.json").get("attention_head_dim").intValue();
        for (int i = 0; i < config.levels(); i++) {
            assertEquals(heads, config.downHeads(i));
            assertEquals(heads, config.upHeads(i));
        }
        assertEquals(heads, config.midHeads());
        assertEquals(4 * config.blockOutChannels().get(0), config.timeEmbeddingDim());
    }

    @Test
    void sd2HeadCountsFollowTheChannelsThroughTheUpBlocks() {
        UNetConfig config = UNetConfig.fromJson(Golden.json("unet_tiny_v2", "config.json"));
        List<Integer> heads = config.attentionHeads();
        int last = heads.size() - 1;
        assertEquals(heads.get(last), config.midHeads());
        for (int i = 0; i <= last; i++) {
            assertEquals(heads.get(i), config.downHeads(i));
            assertEquals(heads.get(last - i), config.upHeads(i));
        }
        assertTrue(config.useLinearProjection());
    }

    @Test
    void refusesOptionsOfOtherModelFamilies() {
        ObjectNode sdxl = ((ObjectNode) Golden.json("unet_tiny", "config.json")).put("addition_embed_type", "text_time");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(sdxl));
        assertTrue(e.getMessage().contains("addition_embed_type"), e.getMessage());

        ObjectNode classEmbed = ((ObjectNode) Golden.json("unet_tiny", "config.json")).put("class_embed_type", "timestep");
        e = assertThrows(IllegalArgumentException.class, () -> UNetConfig.fromJson(classEmbed));
        assertTrue(e.getMessage().contains("class_embed_type"), e.getMessage());

        ObjectNode otherBlock = (ObjectNode) Golden.json("unet_tiny", "config.json");
        otherBlock.putArray("down_block_types").add("DownBlock2D").add("SimpleCrossAttnDownBlock2D");
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
