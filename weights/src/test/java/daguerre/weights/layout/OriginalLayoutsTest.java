package daguerre.weights.layout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.SafetensorsFile;
import daguerre.weights.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * For every golden case, the rename view over the original single file holds exactly the keys of
 * the diffusers / transformers file, with the same shapes and bit-identical values, and each key
 * comes from the original key the case's key_map.json names.
 */
class OriginalLayoutsTest {

    @TempDir
    Path dir;

    private static void assertSameTensors(RenamedTensorSource view, SafetensorsFile canonical, JsonNode keyMap)
            throws IOException {
        assertEquals(new TreeSet<>(canonical.names()), new TreeSet<>(view.names()), view.description());
        for (String name : canonical.names()) {
            assertArrayEquals(canonical.shape(name), view.shape(name), name);
            assertArrayEquals(bits(canonical.floats(name)), bits(view.floats(name)), name);
            if (keyMap != null) {
                assertEquals(keyMap.get(name).asText(), view.origin(name), "origin of " + name);
            }
        }
        if (keyMap != null) {
            assertEquals(keyMap.size(), canonical.names().size());
        }
    }

    private static int[] bits(float[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Float.floatToRawIntBits(values[i]);
        }
        return out;
    }

    @Test
    void unetSd1() throws IOException {
        try (SafetensorsFile original = Golden.tensors("unet_tiny", "unet_original.safetensors");
             SafetensorsFile diffusers = Golden.tensors("unet_tiny", "unet_diffusers.safetensors")) {
            JsonNode config = Golden.json("unet_tiny", "config.json");
            assertEquals(config.get("layers_per_block").asInt(), OriginalLayouts.unetLayersPerBlock(original));
            assertSameTensors(OriginalLayouts.unet(original), diffusers,
                    Golden.json("unet_tiny", "key_map.json").get("diffusers_to_original"));
        }
    }

    @Test
    void unetSd2WithLinearProjections() throws IOException {
        try (SafetensorsFile original = Golden.tensors("unet_tiny_v2", "unet_original.safetensors");
             SafetensorsFile diffusers = Golden.tensors("unet_tiny_v2", "unet_diffusers.safetensors")) {
            JsonNode config = Golden.json("unet_tiny_v2", "config.json");
            assertEquals(config.get("layers_per_block").asInt(), OriginalLayouts.unetLayersPerBlock(original));
            assertSameTensors(OriginalLayouts.unet(original), diffusers,
                    Golden.json("unet_tiny_v2", "key_map.json").get("diffusers_to_original"));
        }
    }

    /** SDXL (SGM layout): label_emb.0.0/2 is add_embedding, transformers two blocks deep, no attention at level 0. */
    @Test
    void unetSdxlWithAddedEmbeddingAndDeepTransformers() throws IOException {
        try (SafetensorsFile original = Golden.tensors("unet_tiny_xl", "unet_original.safetensors");
             SafetensorsFile diffusers = Golden.tensors("unet_tiny_xl", "unet_diffusers.safetensors")) {
            JsonNode config = Golden.json("unet_tiny_xl", "config.json");
            assertEquals(config.get("layers_per_block").asInt(), OriginalLayouts.unetLayersPerBlock(original));
            RenamedTensorSource view = OriginalLayouts.unet(original);
            assertSameTensors(view, diffusers, Golden.json("unet_tiny_xl", "key_map.json").get("diffusers_to_original"));
            assertEquals(new TreeSet<>(original.names()), sourceKeys(view));
        }
    }

    @Test
    void vaeWithAttentionConvolutionsSqueezed() throws IOException {
        try (SafetensorsFile original = Golden.tensors("vae_tiny", "vae_original.safetensors");
             SafetensorsFile diffusers = Golden.tensors("vae_tiny", "vae_diffusers.safetensors")) {
            assertEquals(Golden.json("vae_tiny", "config.json").get("block_out_channels").size(),
                    OriginalLayouts.vaeLevels(original));
            RenamedTensorSource view = OriginalLayouts.vae(original);
            assertSameTensors(view, diffusers, Golden.json("vae_tiny", "key_map.json").get("diffusers_to_original"));
            String q = "decoder.mid_block.attentions.0.to_q.weight";
            assertEquals(RenamedTensorSource.Transform.SQUEEZE, view.entry(q).transform());
            assertEquals(4, original.shape(view.entry(q).sourceKey()).length);
        }
    }

    @Test
    void standaloneVaeFileWithoutPrefix() throws IOException {
        Path file = dir.resolve("vae-standalone.safetensors");
        List<SafetensorsWriter.Tensor> tensors = new ArrayList<>();
        try (SafetensorsFile original = Golden.tensors("vae_tiny", "vae_original.safetensors")) {
            for (String name : original.names()) {
                tensors.add(SafetensorsWriter.Tensor.f32(name.substring(OriginalLayouts.VAE_PREFIX.length()),
                        original.shape(name), original.floats(name)));
            }
        }
        tensors.add(SafetensorsWriter.Tensor.f32("loss.logvar", new long[] {}, new float[] {0f}));
        SafetensorsWriter.write(file, tensors);
        try (SafetensorsFile standalone = SafetensorsFile.open(file);
             SafetensorsFile diffusers = Golden.tensors("vae_tiny", "vae_diffusers.safetensors")) {
            assertSameTensors(OriginalLayouts.vae(standalone, ""), diffusers, null);
        }
    }

    @Test
    void clipTextSd1() throws IOException {
        try (SafetensorsFile original = Golden.tensors("clip_text_tiny", "text_encoder_original.safetensors");
             SafetensorsFile transformers = Golden.tensors("clip_text_tiny", "text_encoder_transformers.safetensors")) {
            RenamedTensorSource view = OriginalLayouts.clipText(original);
            assertSameTensors(view, transformers, null);
            for (String name : view.names()) {
                assertEquals(OriginalLayouts.CLIP_TEXT_PREFIX + name, view.origin(name));
            }
        }
    }

    @Test
    void openClipTextSd2() throws IOException {
        try (SafetensorsFile original = Golden.tensors("clip_text_tiny_gelu", "text_encoder_original.safetensors");
             SafetensorsFile transformers = Golden.tensors("clip_text_tiny_gelu", "text_encoder_transformers.safetensors")) {
            int layers = Golden.json("clip_text_tiny_gelu", "config.json").get("num_hidden_layers").asInt();
            assertSameTensors(OriginalLayouts.openClipText(original, layers), transformers,
                    Golden.json("clip_text_tiny_gelu", "key_map.json").get("transformers_to_original"));
            // fewer layers: higher blocks are ignored, not reported
            RenamedTensorSource fewer = OriginalLayouts.openClipText(original, layers - 1);
            assertTrue(fewer.names().stream().noneMatch(n -> n.contains("layers." + (layers - 1) + ".")));
            assertTrue(fewer.names().contains("text_model.encoder.layers." + (layers - 2) + ".mlp.fc1.weight"));
            IOException tooMany = assertThrows(IOException.class, () -> OriginalLayouts.openClipText(original, layers + 1));
            assertTrue(tooMany.getMessage().contains(String.valueOf(layers)), tooMany.getMessage());
        }
    }

    /**
     * SDXL's SGM single file: encoder 1 under {@code conditioner.embedders.0.transformer.} (transformers
     * names), encoder 2 under {@code conditioner.embedders.1.model.} (OpenCLIP names, fused in_proj,
     * text_projection transposed); together they use every original key but the declared extras.
     */
    @Test
    void sdxlTextEncoders() throws IOException {
        String name = "clip_text_tiny_xl";
        JsonNode keyMap = Golden.json(name, "key_map.json");
        try (SafetensorsFile original = Golden.tensors(name, "text_encoders_original.safetensors");
             SafetensorsFile first = Golden.tensors(name, "text_encoder_transformers.safetensors");
             SafetensorsFile second = Golden.tensors(name, "text_encoder_2_transformers.safetensors")) {
            RenamedTensorSource view1 = OriginalLayouts.clipText(original, OriginalLayouts.SDXL_CLIP_TEXT_PREFIX);
            RenamedTensorSource view2 = OriginalLayouts.sdxlOpenClipText(original);
            assertSameTensors(view1, first, keyMap.get("text_encoder_transformers_to_original"));
            assertSameTensors(view2, second, keyMap.get("text_encoder_2_transformers_to_original"));
            assertEquals(RenamedTensorSource.Transform.TRANSPOSE, view2.entry("text_projection.weight").transform());
            int layers = Golden.json(name, "text_encoder_2_config.json").get("num_hidden_layers").asInt();
            assertEquals(layers, OriginalLayouts.openClipResblocks(original, OriginalLayouts.SDXL_OPEN_CLIP_TEXT_PREFIX));

            TreeSet<String> used = sourceKeys(view1);
            used.addAll(sourceKeys(view2));
            TreeSet<String> expected = new TreeSet<>(original.names());
            keyMap.get("original_only").fieldNames().forEachRemaining(expected::remove);
            assertEquals(expected, used);
        }
    }

    @Test
    void sd1TextEncoderExtrasAndOldLayout() throws IOException {
        Path file = dir.resolve("old.safetensors");
        SafetensorsWriter.write(file, List.of(
                SafetensorsWriter.Tensor.i64("cond_stage_model.transformer.embeddings.position_ids", new long[] {1, 3}, new long[] {0, 1, 2}),
                SafetensorsWriter.Tensor.f32("cond_stage_model.transformer.embeddings.token_embedding.weight", new long[] {2, 2}, new float[4]),
                SafetensorsWriter.Tensor.f32("cond_stage_model.transformer.final_layer_norm.weight", new long[] {2}, new float[2]),
                SafetensorsWriter.Tensor.f32("model_ema.decay", new long[] {}, new float[1])));
        try (SafetensorsFile original = SafetensorsFile.open(file)) {
            RenamedTensorSource view = OriginalLayouts.clipText(original);
            assertEquals(List.of("text_model.embeddings.token_embedding.weight", "text_model.final_layer_norm.weight"),
                    new ArrayList<>(view.names()));
        }
    }

    @Test
    void unknownKeysUnderAPrefixFailNamingTheKey() throws IOException {
        Path file = dir.resolve("odd.safetensors");
        SafetensorsWriter.write(file, List.of(
                SafetensorsWriter.Tensor.f32("model.diffusion_model.input_blocks.0.0.weight", new long[] {1}, new float[1]),
                SafetensorsWriter.Tensor.f32("model.diffusion_model.input_blocks.1.0.in_layers.0.weight", new long[] {1}, new float[1]),
                SafetensorsWriter.Tensor.f32("model.diffusion_model.label_emb.0.weight", new long[] {1}, new float[1])));
        try (SafetensorsFile original = SafetensorsFile.open(file)) {
            IOException e = assertThrows(IOException.class, () -> OriginalLayouts.unet(original));
            assertTrue(e.getMessage().contains("'model.diffusion_model.label_emb.0.weight'"), e.getMessage());
            assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        }
        Path misplaced = dir.resolve("misplaced.safetensors");
        SafetensorsWriter.write(misplaced, List.of(
                SafetensorsWriter.Tensor.f32("model.diffusion_model.input_blocks.1.0.in_layers.0.weight", new long[] {1}, new float[1]),
                SafetensorsWriter.Tensor.f32("model.diffusion_model.input_blocks.3.0.op.weight", new long[] {1}, new float[1]),
                SafetensorsWriter.Tensor.f32("model.diffusion_model.input_blocks.3.1.norm.weight", new long[] {1}, new float[1])));
        try (SafetensorsFile original = SafetensorsFile.open(misplaced)) {
            IOException e = assertThrows(IOException.class, () -> OriginalLayouts.unet(original));
            assertTrue(e.getMessage().contains("'model.diffusion_model.input_blocks.3.1.norm.weight'"), e.getMessage());
        }
    }

    @Test
    void viewsUseEveryOriginalKeyButTheDeclaredExtras() throws IOException {
        try (SafetensorsFile unet = Golden.tensors("unet_tiny_v2", "unet_original.safetensors");
             SafetensorsFile vae = Golden.tensors("vae_tiny", "vae_original.safetensors");
             SafetensorsFile text = Golden.tensors("clip_text_tiny_gelu", "text_encoder_original.safetensors")) {
            assertEquals(new TreeSet<>(unet.names()), sourceKeys(OriginalLayouts.unet(unet)));
            assertEquals(new TreeSet<>(vae.names()), sourceKeys(OriginalLayouts.vae(vae)));
            TreeSet<String> textKeys = new TreeSet<>(text.names());
            JsonNode extras = Golden.json("clip_text_tiny_gelu", "key_map.json").get("original_only");
            extras.fieldNames().forEachRemaining(textKeys::remove);
            int layers = OriginalLayouts.openClipResblocks(text);
            assertEquals(textKeys, sourceKeys(OriginalLayouts.openClipText(text, layers)));
        }
    }

    private static TreeSet<String> sourceKeys(RenamedTensorSource view) throws IOException {
        TreeSet<String> keys = new TreeSet<>();
        for (String name : view.names()) {
            keys.add(view.entry(name).sourceKey());
        }
        return keys;
    }
}
