package daguerre.weights.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.DType;
import daguerre.weights.safetensors.InvalidTensorFileException;
import daguerre.weights.safetensors.SafetensorsFile;
import daguerre.weights.safetensors.SafetensorsWriter;
import daguerre.weights.safetensors.SafetensorsWriter.Tensor;
import daguerre.weights.safetensors.UnsafeCheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Reading kohya and diffusers LoRA files into canonical modules, against the tiny golden models' names. */
class LoraFileTest {

    private static final String CASE = "lora_tiny";

    @TempDir
    Path temp;

    /** The base models' parameter names and shapes, as the model classes register them (their checkpoint keys). */
    private static Map<LoraNetwork, Map<String, long[]>> tinyModel() throws IOException {
        Map<LoraNetwork, Map<String, long[]>> params = new EnumMap<>(LoraNetwork.class);
        params.put(LoraNetwork.UNET, shapes(Golden.file("unet_tiny", "unet_diffusers.safetensors")));
        params.put(LoraNetwork.TEXT_ENCODER, shapes(Golden.file("clip_text_tiny", "text_encoder_transformers.safetensors")));
        return params;
    }

    /** Every tensor's shape in {@code file}, by name. */
    static Map<String, long[]> shapes(Path file) throws IOException {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : f.names()) {
                shapes.put(name, f.shape(name));
            }
        }
        return shapes;
    }

    private static String kindName(LoraModule m) {
        return m.kind() == LoraKind.CONV_KXK ? "conv" + m.targetShape()[2] + "x" + m.targetShape()[3]
                : m.kind().name().toLowerCase(Locale.ROOT);
    }

    /** Every kohya module of the golden files lands on the module, kind and shapes {@code key_map.json} names. */
    @ParameterizedTest
    @ValueSource(strings = {"lora_kohya.safetensors", "locon_kohya.safetensors"})
    void kohyaNamesResolveToTheModelsModules(String fileName) throws IOException {
        JsonNode targets = Golden.json(CASE, "key_map.json").get("kohya_to_targets");
        Path path = Golden.file(CASE, fileName);
        LoraFile lora = LoraFile.read(path, tinyModel());
        String stem = fileName.substring(0, fileName.indexOf('.'));
        int expected = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = targets.fields(); it.hasNext(); ) {
            if (it.next().getValue().get("in").asText().contains(stem)) {
                expected++;
            }
        }
        assertEquals(expected, lora.modules().size(), "modules read");
        long factorBytes = 0;
        try (SafetensorsFile file = SafetensorsFile.open(path)) {
            for (String name : file.names()) {
                if (!name.endsWith(".alpha")) {
                    factorBytes += 4 * file.info(name).elementCount();
                }
            }
        }
        assertEquals(factorBytes, lora.byteSize());
        try (SafetensorsFile file = SafetensorsFile.open(path)) {
            for (LoraModule m : lora.modules()) {
                JsonNode entry = targets.get(m.sourceKey());
                assertTrue(entry != null, "key_map.json lacks " + m.sourceKey());
                String module = entry.get("diffusers_module").asText();
                String prefix = m.network().diffusersPrefix();
                assertTrue(module.startsWith(prefix), m + " is not under " + prefix);
                assertEquals(module.substring(prefix.length()) + ".weight", m.target(), m.sourceKey());
                assertEquals(entry.get("kind").asText(), kindName(m), m.sourceKey());
                assertEquals(entry.get("lora_down_shape").get(0).asInt(), m.rank());
                assertEquals(file.floats(m.sourceKey() + ".alpha")[0], m.alpha());
                assertArrayEquals(file.floats(m.sourceKey() + ".lora_down.weight"), m.down());
                assertArrayEquals(file.floats(m.sourceKey() + ".lora_up.weight"), m.up());
            }
        }
    }

    /**
     * The diffusers file holds the same LoRA with alpha / rank folded into up (a power of two, exact):
     * read, it gives the same targets and the same (alpha / rank) * up @ down factors as the kohya file.
     */
    @ParameterizedTest
    @ValueSource(strings = {"lora", "locon"})
    void diffusersFileGivesTheKohyaFilesUpdates(String stem) throws IOException {
        Map<LoraNetwork, Map<String, long[]>> model = tinyModel();
        LoraFile kohya = LoraFile.read(Golden.file(CASE, stem + "_kohya.safetensors"), model);
        LoraFile diffusers = LoraFile.read(Golden.file(CASE, stem + "_diffusers.safetensors"), model);
        Map<String, LoraModule> byTarget = new LinkedHashMap<>();
        for (LoraModule m : diffusers.modules()) {
            byTarget.put(m.network() + " " + m.target(), m);
            assertEquals(m.rank(), m.alpha(), "diffusers format: alpha = rank");
        }
        assertEquals(kohya.modules().size(), byTarget.size());
        for (LoraModule k : kohya.modules()) {
            LoraModule d = byTarget.get(k.network() + " " + k.target());
            assertTrue(d != null, "diffusers file lacks " + k.target());
            assertEquals(k.kind(), d.kind());
            assertArrayEquals(k.down(), d.down(), k.target());
            float[] folded = k.up().clone();
            for (int i = 0; i < folded.length; i++) {
                folded[i] *= k.alphaOverRank();
            }
            assertArrayEquals(folded, d.up(), k.target());
        }
    }

    /** kohya's SDXL files name U-Net modules by their original LDM path ({@code input_blocks_4_1_...}): resolved the same. */
    @Test
    void kohyaNamesInTheOriginalLayoutResolveToo() throws IOException {
        JsonNode targets = Golden.json(CASE, "key_map.json").get("kohya_to_targets");
        Path source = Golden.file(CASE, "locon_kohya.safetensors");
        Map<String, String> renames = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = targets.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String original = e.getValue().get("original_layout_weight").asText();
            String prefix = "model.diffusion_model.";
            if (e.getKey().startsWith("lora_unet_") && original.startsWith(prefix)) {
                String module = original.substring(prefix.length(), original.length() - ".weight".length());
                renames.put(e.getKey(), "lora_unet_" + module.replace('.', '_'));
            }
        }
        assertFalse(renames.isEmpty());
        Path renamed = rewrite(source, key -> {
            String module = key.substring(0, key.indexOf('.'));
            return renames.getOrDefault(module, module) + key.substring(key.indexOf('.'));
        });
        Map<LoraNetwork, Map<String, long[]>> model = tinyModel();
        List<String> expected = LoraFile.read(source, model).modules().stream().map(LoraModule::target).toList();
        LoraFile lora = LoraFile.read(renamed, model);
        assertEquals(expected, lora.modules().stream().map(LoraModule::target).toList());
        assertTrue(lora.modules().stream().anyMatch(m -> m.sourceKey().startsWith("lora_unet_input_blocks_")));
    }

    @Test
    void unknownKeyIsNamed() throws IOException {
        Path file = rewrite(Golden.file(CASE, "lora_kohya.safetensors"), UnaryOperator.identity(),
                List.of(Tensor.f32("lora_unet_down_blocks_1_attentions_0_proj_in.hada_w1_a", new long[] {4, 64}, new float[256])));
        IOException e = assertThrows(IOException.class, () -> LoraFile.read(file, tinyModel()));
        assertTrue(e.getMessage().contains("lora_unet_down_blocks_1_attentions_0_proj_in.hada_w1_a"), e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void moduleTheModelLacksIsNamed() throws IOException {
        Path file = rewrite(Golden.file(CASE, "lora_kohya.safetensors"),
                key -> key.replace("lora_unet_down_blocks_1_attentions_0_proj_in.", "lora_unet_down_blocks_7_attentions_0_proj_in."));
        IOException e = assertThrows(IOException.class, () -> LoraFile.read(file, tinyModel()));
        assertTrue(e.getMessage().contains("lora_unet_down_blocks_7_attentions_0_proj_in"), e.getMessage());

        Path diffusers = rewrite(Golden.file(CASE, "lora_diffusers.safetensors"),
                key -> key.replace("unet.down_blocks.1.attentions.0.proj_in.", "unet.down_blocks.1.attentions.0.proj_nowhere."));
        IOException d = assertThrows(IOException.class, () -> LoraFile.read(diffusers, tinyModel()));
        assertTrue(d.getMessage().contains("unet.down_blocks.1.attentions.0.proj_nowhere"), d.getMessage());

        // a text-encoder LoRA on a model that has no such network
        Map<LoraNetwork, Map<String, long[]>> unetOnly = new EnumMap<>(LoraNetwork.class);
        unetOnly.put(LoraNetwork.UNET, tinyModel().get(LoraNetwork.UNET));
        IOException t = assertThrows(IOException.class, () -> LoraFile.read(Golden.file(CASE, "lora_kohya.safetensors"), unetOnly));
        assertTrue(t.getMessage().contains("lora_te_"), t.getMessage());
    }

    @Test
    void shapeMismatchIsNamed() throws IOException {
        String key = "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight";
        Path file = rewrite(Golden.file(CASE, "lora_kohya.safetensors"), k -> k.equals(key) ? null : k,
                List.of(Tensor.f32(key, new long[] {36, 4}, new float[36 * 4])));
        IOException e = assertThrows(IOException.class, () -> LoraFile.read(file, tinyModel()));
        assertTrue(e.getMessage().contains(key), e.getMessage());
        assertTrue(e.getMessage().contains("[36, 4]"), e.getMessage());
    }

    @Test
    void moduleWithoutUpFactorIsNamed() throws IOException {
        String key = "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight";
        Path file = rewrite(Golden.file(CASE, "lora_kohya.safetensors"), k -> k.equals(key) ? null : k);
        IOException e = assertThrows(IOException.class, () -> LoraFile.read(file, tinyModel()));
        assertTrue(e.getMessage().contains("lora_te_text_model_encoder_layers_0_mlp_fc1"), e.getMessage());
    }

    @Test
    void nonFiniteValueIsNamed() throws IOException {
        String key = "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight";
        float[] values = new float[4 * 32];
        values[5] = Float.NaN;
        Path file = rewrite(Golden.file(CASE, "lora_kohya.safetensors"), k -> k.equals(key) ? null : k,
                List.of(Tensor.f32(key, new long[] {4, 32}, values)));
        IOException e = assertThrows(IOException.class, () -> LoraFile.read(file, tinyModel()));
        assertTrue(e.getMessage().contains(key), e.getMessage());
    }

    /** No alpha in a kohya file: alpha = rank (scale 1), as kohya's scripts read it; F16 factors are widened. */
    @Test
    void missingAlphaMeansRankAndHalfFactorsAreRead() throws IOException {
        Path file = temp.resolve("half.safetensors");
        float[] down = new float[4 * 32];
        float[] up = new float[37 * 4];
        for (int i = 0; i < down.length; i++) {
            down[i] = (i % 7) * 0.25f;
        }
        for (int i = 0; i < up.length; i++) {
            up[i] = (i % 5) * -0.5f;
        }
        SafetensorsWriter.write(file, List.of(
                Tensor.of("lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", DType.F16, new long[] {4, 32}, down),
                Tensor.of("lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", DType.BF16, new long[] {37, 4}, up)));
        LoraFile lora = LoraFile.read(file, tinyModel());
        LoraModule m = lora.modules().get(0);
        assertEquals(4f, m.alpha());
        assertEquals(1f, m.alphaOverRank());
        assertEquals("text_model.encoder.layers.0.mlp.fc1.weight", m.target());
        assertEquals(LoraNetwork.TEXT_ENCODER, m.network());
        assertArrayEquals(down, m.down());
        assertArrayEquals(up, m.up());
        assertEquals("half", lora.name());
    }

    @ParameterizedTest
    @ValueSource(strings = {"style.ckpt", "style.pt", "style.bin"})
    void pickleFilesAreRefused(String name) throws IOException {
        Path file = temp.resolve(name);
        Files.write(file, new byte[] {(byte) 0x80, 2, 'c'});
        assertThrows(UnsafeCheckpointException.class, () -> LoraFile.read(file, tinyModel()));
    }

    @Test
    void picklePayloadUnderASafetensorsNameIsRefused() throws IOException {
        Path file = temp.resolve("style.safetensors");
        Files.write(file, new byte[] {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0});
        assertThrows(UnsafeCheckpointException.class, () -> LoraFile.read(file, tinyModel()));
    }

    @Test
    void fileWithoutLoraKeysIsRefused() throws IOException {
        Path file = temp.resolve("empty.safetensors");
        SafetensorsWriter.write(file, List.of());
        InvalidTensorFileException e = assertThrows(InvalidTensorFileException.class, () -> LoraFile.read(file, tinyModel()));
        assertTrue(e.getMessage().contains("no LoRA modules"), e.getMessage());
    }

    private Path rewrite(Path source, UnaryOperator<String> rename) throws IOException {
        return rewrite(source, rename, List.of());
    }

    /** A copy of {@code source} with its keys renamed (null drops a key) and {@code extra} tensors added. */
    private Path rewrite(Path source, UnaryOperator<String> rename, List<Tensor> extra) throws IOException {
        List<Tensor> tensors = new ArrayList<>();
        try (SafetensorsFile f = SafetensorsFile.open(source)) {
            for (String name : f.names()) {
                String renamed = rename.apply(name);
                if (renamed != null) {
                    tensors.add(Tensor.of(renamed, f.dtype(name), f.shape(name), f.floats(name)));
                }
            }
        }
        tensors.addAll(extra);
        Path out = Files.createTempFile(temp, "lora", ".safetensors");
        SafetensorsWriter.write(out, tensors);
        return out;
    }
}
