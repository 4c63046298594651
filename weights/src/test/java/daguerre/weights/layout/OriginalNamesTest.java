package daguerre.weights.layout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The inverse names agree with every golden case's key_map.json (which the forward views are
 * tested against), and shapes become the original file's.
 */
class OriginalNamesTest {

    private static void assertKeyMap(String goldenCase, Function<List<String>, Map<String, String>> inverse) throws IOException {
        JsonNode keyMap = Golden.json(goldenCase, "key_map.json").get("diffusers_to_original");
        List<String> canonical = new ArrayList<>();
        for (Iterator<String> it = keyMap.fieldNames(); it.hasNext(); ) {
            canonical.add(it.next());
        }
        Map<String, String> originals = inverse.apply(canonical);
        assertEquals(canonical.size(), originals.size());
        for (String name : canonical) {
            assertEquals(keyMap.get(name).asText(), originals.get(name), goldenCase + ": original name of " + name);
        }
    }

    @Test
    void unetSd1MatchesKeyMap() throws IOException {
        assertKeyMap("unet_tiny", OriginalNames::unet);
    }

    @Test
    void unetSd2MatchesKeyMap() throws IOException {
        assertKeyMap("unet_tiny_v2", OriginalNames::unet);
    }

    @Test
    void unetSdxlMatchesKeyMap() throws IOException {
        assertKeyMap("unet_tiny_xl", OriginalNames::unet);
    }

    @Test
    void vaeMatchesKeyMapAndShapes() throws IOException {
        assertKeyMap("vae_tiny", OriginalNames::vae);
        try (SafetensorsFile original = Golden.tensors("vae_tiny", "vae_original.safetensors");
             SafetensorsFile diffusers = Golden.tensors("vae_tiny", "vae_diffusers.safetensors")) {
            Map<String, String> names = OriginalNames.vae(List.copyOf(diffusers.names()));
            for (String name : diffusers.names()) {
                assertArrayEquals(original.shape(names.get(name)), OriginalNames.vaeOriginalShape(name, diffusers.shape(name)), name);
            }
        }
    }

    @Test
    void clipTextGetsThePrefix() {
        assertEquals(Map.of("text_model.final_layer_norm.weight", "cond_stage_model.transformer.text_model.final_layer_norm.weight"),
                OriginalNames.clipText(List.of("text_model.final_layer_norm.weight")));
    }

    @Test
    void unknownKeyIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OriginalNames.unet(List.of("down_blocks.0.resnets.0.conv1.weight", "class_embedding.linear_1.weight")));
        assertTrue(e.getMessage().contains("class_embedding.linear_1.weight"), e.getMessage());
    }
}
