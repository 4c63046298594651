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

    /** Rows of {@code parts} one after another, or the one part transposed: how the original tensor is made. */
    private static float[] originalValues(SafetensorsFile canonical, OriginalNames.OpenClipTensor tensor) throws IOException {
        if (tensor.transposed()) {
            long[] shape = canonical.shape(tensor.canonicalParts().get(0));
            float[] values = canonical.floats(tensor.canonicalParts().get(0));
            float[] out = new float[values.length];
            int rows = (int) shape[0];
            int cols = (int) shape[1];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    out[c * rows + r] = values[r * cols + c];
                }
            }
            return out;
        }
        List<float[]> parts = new ArrayList<>();
        int length = 0;
        for (String part : tensor.canonicalParts()) {
            float[] values = canonical.floats(part);
            parts.add(values);
            length += values.length;
        }
        float[] out = new float[length];
        int at = 0;
        for (float[] values : parts) {
            System.arraycopy(values, 0, out, at, values.length);
            at += values.length;
        }
        return out;
    }

    @Test
    void sdxlTextEncodersBackToTheSgmFile() throws IOException {
        try (SafetensorsFile original = Golden.tensors("clip_text_tiny_xl", "text_encoders_original.safetensors");
             SafetensorsFile text1 = Golden.tensors("clip_text_tiny_xl", "text_encoder_transformers.safetensors");
             SafetensorsFile text2 = Golden.tensors("clip_text_tiny_xl", "text_encoder_2_transformers.safetensors")) {
            java.util.Set<String> written = new java.util.TreeSet<>();
            for (Map.Entry<String, String> e : OriginalNames.sdxlClipText(text1.names()).entrySet()) {
                assertArrayEquals(original.floats(e.getValue()), text1.floats(e.getKey()), e.getKey());
                written.add(e.getValue());
            }
            for (OriginalNames.OpenClipTensor tensor : OriginalNames.sdxlOpenClipText(text2.names())) {
                assertArrayEquals(original.floats(tensor.original()), originalValues(text2, tensor), tensor.original());
                written.add(tensor.original());
            }
            java.util.Set<String> expected = new java.util.TreeSet<>(original.names());
            expected.removeIf(name -> name.endsWith("logit_scale"));   // SGM files carry it; nothing reads it
            assertEquals(expected, written, "every tensor of the SGM file but logit_scale, and nothing else");
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> OriginalNames.sdxlOpenClipText(
                List.of("text_model.encoder.layers.0.self_attn.q_proj.weight"))).getMessage().contains("k_proj"));
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
