package daguerre.diffusion.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.weights.Golden;
import org.junit.jupiter.api.Test;

class VaeConfigTest {

    @Test
    void readsTheGoldenConfig() {
        JsonNode json = Golden.json("vae_tiny", "config.json");
        VaeConfig config = VaeConfig.fromJson(json);
        assertEquals(json.get("block_out_channels").size(), config.levels());
        assertEquals(json.get("latent_channels").intValue(), config.latentChannels());
        assertEquals((float) json.get("scaling_factor").doubleValue(), config.scalingFactor());
        assertEquals(1 << (config.levels() - 1), config.downsamplingFactor());
    }

    @Test
    void refusesOtherLayouts() {
        ObjectNode sd3 = ((ObjectNode) Golden.json("vae_tiny", "config.json")).put("shift_factor", 0.0609);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VaeConfig.fromJson(sd3));
        assertTrue(e.getMessage().contains("shift_factor"), e.getMessage());

        ObjectNode noQuantConv = ((ObjectNode) Golden.json("vae_tiny", "config.json")).put("use_quant_conv", false);
        e = assertThrows(IllegalArgumentException.class, () -> VaeConfig.fromJson(noQuantConv));
        assertTrue(e.getMessage().contains("use_quant_conv"), e.getMessage());
    }
}
