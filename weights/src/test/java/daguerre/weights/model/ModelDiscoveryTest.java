package daguerre.weights.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.DType;
import daguerre.weights.safetensors.SafetensorsFile;
import daguerre.weights.safetensors.SafetensorsWriter;
import daguerre.weights.safetensors.SafetensorsWriter.Tensor;
import daguerre.weights.safetensors.UnsafeCheckpointException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Diffusers folders and original single files are found, read and refused as documented. */
class ModelDiscoveryTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** Copies every tensor of the given golden files (as F32 or F16) into one list. */
    private static List<Tensor> tensorsOf(DType dtype, String[]... files) throws IOException {
        List<Tensor> out = new ArrayList<>();
        for (String[] f : files) {
            try (SafetensorsFile file = Golden.tensors(f[0], f[1])) {
                for (String name : file.names()) {
                    out.add(Tensor.of(name, dtype, file.shape(name), file.floats(name)));
                }
            }
        }
        return out;
    }

    /** An original SD 1.x-style single file from the golden U-Net, VAE and text encoder, plus the usual extras. */
    private Path sd1SingleFile(String name) throws IOException {
        List<Tensor> tensors = tensorsOf(DType.F32,
                new String[] {"unet_tiny", "unet_original.safetensors"},
                new String[] {"vae_tiny", "vae_original.safetensors"},
                new String[] {"clip_text_tiny", "text_encoder_original.safetensors"});
        tensors.add(Tensor.i64("cond_stage_model.transformer.text_model.embeddings.position_ids", new long[] {1, 77},
                new long[77]));
        tensors.add(Tensor.f32("alphas_cumprod", new long[] {2}, new float[] {0.99f, 0.98f}));
        tensors.add(Tensor.f32("model_ema.decay", new long[] {}, new float[] {0.9999f}));
        Path file = dir.resolve(name);
        SafetensorsWriter.write(file, tensors);
        return file;
    }

    private Path sd2SingleFile(String name) throws IOException {
        Path file = dir.resolve(name);
        SafetensorsWriter.write(file, tensorsOf(DType.F32,
                new String[] {"unet_tiny_v2", "unet_original.safetensors"},
                new String[] {"vae_tiny", "vae_original.safetensors"},
                new String[] {"clip_text_tiny_gelu", "text_encoder_original.safetensors"}));
        return file;
    }

    private static TreeSet<String> names(String caseName, String file) throws IOException {
        try (SafetensorsFile f = Golden.tensors(caseName, file)) {
            return new TreeSet<>(f.names());
        }
    }

    @Test
    void sd1SingleFile() throws IOException {
        Path file = sd1SingleFile("tiny-sd1.safetensors");
        try (DiscoveredModel model = ModelDiscovery.open(file)) {
            assertEquals("tiny-sd1", model.id());
            assertEquals(DiscoveredModel.Format.SINGLE_FILE, model.format());
            assertEquals(file, model.hashedFile());
            assertEquals("epsilon", model.predictionType());
            assertTrue(model.schedulerConfig().isEmpty());
            assertEquals(names("unet_tiny", "unet_diffusers.safetensors"), new TreeSet<>(model.unet().weights().names()));
            assertEquals(names("vae_tiny", "vae_diffusers.safetensors"), new TreeSet<>(model.vae().weights().names()));
            assertEquals(names("clip_text_tiny", "text_encoder_transformers.safetensors"),
                    new TreeSet<>(model.textEncoder().weights().names()));
            JsonNode unetConfig = Golden.json("unet_tiny", "config.json");
            for (String field : List.of("block_out_channels", "layers_per_block", "down_block_types", "up_block_types",
                    "cross_attention_dim", "use_linear_projection")) {
                assertEquals(unetConfig.get(field), model.unet().config().get(field), field);
            }
            // head counts are not in the file: the SD 1.x convention, checked against the case where it follows it
            ConfigInferenceTest.assertConventionsWhereFollowed(unetConfig, model.unet().config(),
                    ConfigInferenceTest.sd1UnetConvention(), "attention_head_dim", "upcast_attention");
            assertEquals(Golden.json("vae_tiny", "config.json").get("latent_channels"), model.vae().config().get("latent_channels"));
            ConfigInferenceTest.assertConventionsWhereFollowed(Golden.json("clip_text_tiny", "config.json"),
                    model.textEncoder().config(), JSON.readTree("{\"hidden_act\": \"quick_gelu\"}"), "hidden_act");
            // a single file carries no sample size: 512 px (64 latents) for SD 1.x epsilon models
            assertEquals(64, model.unet().config().get("sample_size").asInt());
            assertTrue(model.tokenizer().folder().isEmpty());
            assertEquals(TokenizerFiles.SD1_PAD_TOKEN, model.tokenizer().padToken());
            try (InputStream vocab = model.tokenizer().openVocab()) {
                assertEquals(49408, JSON.readTree(vocab).size());
            }
            // values come through the view from the single file
            try (SafetensorsFile diffusers = Golden.tensors("unet_tiny", "unet_diffusers.safetensors")) {
                for (String key : diffusers.names()) {
                    assertArrayEquals(diffusers.floats(key), model.unet().weights().floats(key), key);
                }
            }
        }
    }

    @Test
    void sd2SingleFileWithSidecarYaml() throws IOException {
        Path file = sd2SingleFile("tiny-sd2-v.safetensors");
        Files.writeString(dir.resolve("tiny-sd2-v.yaml"), """
                model:
                  base_learning_rate: 1.0e-4
                  target: ldm.models.diffusion.ddpm.LatentDiffusion
                  params:
                    parameterization: "v"
                    linear_start: 0.00085
                """);
        try (DiscoveredModel model = ModelDiscovery.open(file)) {
            assertEquals("v_prediction", model.predictionType());
            // a single file carries no sample size: 768 px (96 latents) for SD 2.x v-prediction models
            assertEquals(96, model.unet().config().get("sample_size").asInt());
            JsonNode unetConfig = Golden.json("unet_tiny_v2", "config.json");
            assertEquals(unetConfig.get("use_linear_projection"), model.unet().config().get("use_linear_projection"));
            ConfigInferenceTest.assertConventionsWhereFollowed(unetConfig, model.unet().config(),
                    ConfigInferenceTest.sd2UnetConvention(), "upcast_attention");
            ConfigInferenceTest.assertConventionsWhereFollowed(Golden.json("clip_text_tiny_gelu", "config.json"),
                    model.textEncoder().config(), JSON.readTree("{\"hidden_act\": \"gelu\"}"), "hidden_act");
            assertEquals(TokenizerFiles.SD2_PAD_TOKEN, model.tokenizer().padToken());
            // SD 2.x uses the penultimate OpenCLIP block: one layer fewer than the file holds
            int blocks = Golden.json("clip_text_tiny_gelu", "config.json").get("num_hidden_layers").asInt();
            assertEquals(blocks - 1, model.textEncoder().config().get("num_hidden_layers").asInt());
            assertFalse(model.textEncoder().weights().names().stream()
                    .anyMatch(n -> n.startsWith("text_model.encoder.layers." + (blocks - 1) + ".")));
        }
        try (DiscoveredModel model = ModelDiscovery.open(file, "epsilon")) {
            assertEquals("epsilon", model.predictionType());
            assertEquals(64, model.unet().config().get("sample_size").asInt());
        }
    }

    @Test
    void sidecarYamlParameterization() throws IOException {
        Path file = dir.resolve("m.safetensors");
        Path yaml = dir.resolve("m.yaml");
        assertEquals("epsilon", ModelDiscovery.sidecarPredictionType(file));
        Files.writeString(yaml, "model:\n  params:\n    parameterization: v  # v-prediction\n");
        assertEquals("v_prediction", ModelDiscovery.sidecarPredictionType(file));
        Files.writeString(yaml, "model:\n  params:\n    parameterization: \"eps\"\n");
        assertEquals("epsilon", ModelDiscovery.sidecarPredictionType(file));
        Files.writeString(yaml, "# parameterization: \"v\"\nmodel: {}\n");
        assertEquals("epsilon", ModelDiscovery.sidecarPredictionType(file));
    }

    /** A copy of the golden SDXL pipeline folder whose model_index.json is {@code index}'s output. */
    private Path sdxlFolder(String name, java.util.function.UnaryOperator<com.fasterxml.jackson.databind.node.ObjectNode> index)
            throws IOException {
        Path source = Golden.caseDir("pipeline_tiny_xl").resolve("pipeline");
        assertTrue(Files.isRegularFile(source.resolve("model_index.json")), () -> "golden folder missing: " + source);
        Path folder = dir.resolve(name);
        try (var walk = Files.walk(source)) {
            for (Path p : walk.toList()) {
                Path target = folder.resolve(source.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
        var json = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(folder.resolve("model_index.json").toFile());
        Files.writeString(folder.resolve("model_index.json"), JSON.writeValueAsString(index.apply(json)));
        return folder;
    }

    @Test
    void sdxlDiffusersFolder() throws IOException {
        Path folder = sdxlFolder("tiny-xl", index -> index);
        JsonNode index = JSON.readTree(folder.resolve("model_index.json").toFile());
        JsonNode tokenizer2Map = JSON.readTree(folder.resolve("tokenizer_2/special_tokens_map.json").toFile());
        try (DiscoveredModel model = ModelDiscovery.open(folder)) {
            assertEquals(DiscoveredModel.Family.SDXL, model.family());
            DiscoveredModel.SecondTextEncoder second = model.secondTextEncoder().orElseThrow();
            assertEquals(index.path("force_zeros_for_empty_prompt").asBoolean(true), second.forceZerosForEmptyPrompt());
            JsonNode pad = tokenizer2Map.get("pad_token");
            assertEquals(pad.isTextual() ? pad.textValue() : pad.get("content").asText(), second.tokenizer().padToken());
            assertEquals(folder.resolve("tokenizer_2"), second.tokenizer().folder().orElseThrow());
            JsonNode config2 = JSON.readTree(folder.resolve("text_encoder_2/config.json").toFile());
            assertEquals(config2, second.encoder().config());
            assertTrue(second.encoder().weights().names().contains("text_projection.weight"));
        }
        try (DiscoveredModel sd = ModelDiscovery.open(diffusersFolder("epsilon"))) {
            assertEquals(DiscoveredModel.Family.SD, sd.family());
            assertTrue(sd.secondTextEncoder().isEmpty());
        }
    }

    @Test
    void sdxlSingleFile() throws IOException {
        Path pipeline = Golden.caseDir("pipeline_tiny_xl").resolve("pipeline");
        try (DiscoveredModel model = ModelDiscovery.open(Golden.file("pipeline_tiny_xl", "model_original.safetensors"))) {
            assertEquals(DiscoveredModel.Family.SDXL, model.family());
            assertEquals(DiscoveredModel.Format.SINGLE_FILE, model.format());
            DiscoveredModel.SecondTextEncoder second = model.secondTextEncoder().orElseThrow();
            assertTrue(second.forceZerosForEmptyPrompt());
            assertEquals(TokenizerFiles.SD2_PAD_TOKEN, second.tokenizer().padToken());
            assertEquals(TokenizerFiles.SD1_PAD_TOKEN, model.tokenizer().padToken());
            JsonNode text2 = JSON.readTree(pipeline.resolve("text_encoder_2/config.json").toFile());
            for (String field : List.of("hidden_size", "intermediate_size", "num_hidden_layers", "vocab_size", "projection_dim")) {
                assertEquals(text2.get(field).asInt(), second.encoder().config().get(field).asInt(), field);
            }
            assertEquals(new TreeSet<>(names(pipeline.resolve("text_encoder_2/model.safetensors"))),
                    new TreeSet<>(second.encoder().weights().names()), "encoder 2 under transformers names");
            JsonNode unet = JSON.readTree(pipeline.resolve("unet/config.json").toFile());
            for (String field : List.of("addition_time_embed_dim", "projection_class_embeddings_input_dim", "cross_attention_dim")) {
                assertEquals(unet.get(field).asInt(), model.unet().config().get(field).asInt(), field);
            }
            assertEquals(ConfigInference.SDXL_VAE_SCALING_FACTOR, model.vae().config().get("scaling_factor").asDouble());
        }
    }

    private static List<String> names(Path file) throws IOException {
        try (SafetensorsFile tensors = SafetensorsFile.open(file)) {
            return new ArrayList<>(tensors.names());
        }
    }

    @Test
    void sdxlFolderProblemsAreNamed() throws IOException {
        Map<String, java.util.function.UnaryOperator<com.fasterxml.jackson.databind.node.ObjectNode>> broken = Map.of(
                "refiner", index -> {
                    index.putArray("text_encoder").addNull().addNull();
                    return index;
                },
                "needs text_encoder_2", index -> {
                    index.remove("text_encoder_2");
                    return index;
                },
                "needs tokenizer_2", index -> {
                    index.remove("tokenizer_2");
                    return index;
                },
                "force_zeros_for_empty_prompt must be true or false", index -> index.put("force_zeros_for_empty_prompt", "yes"),
                "text_encoder_2 class CLIPTextModel is not supported", index -> {
                    index.putArray("text_encoder_2").add("transformers").add("CLIPTextModel");
                    return index;
                });
        int n = 0;
        for (var e : broken.entrySet()) {
            Path folder = sdxlFolder("broken-" + n++, e.getValue());
            String message = assertThrows(IOException.class, () -> ModelDiscovery.open(folder)).getMessage();
            assertTrue(message.contains(e.getKey()) && message.contains("model_index.json"), message);
        }
    }

    private Path diffusersFolder(String predictionType) throws IOException {
        Path folder = dir.resolve("tiny-diffusers");
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("model_index.json"), "{\"_class_name\": \"StableDiffusionPipeline\"}");
        for (String[] c : new String[][] {
            {"unet", "unet_tiny", "unet_diffusers.safetensors", "diffusion_pytorch_model.safetensors"},
            {"text_encoder", "clip_text_tiny", "text_encoder_transformers.safetensors", "model.safetensors"}}) {
            Files.createDirectories(folder.resolve(c[0]));
            Files.copy(Golden.file(c[1], "config.json"), folder.resolve(c[0]).resolve("config.json"));
            Files.copy(Golden.file(c[1], c[2]), folder.resolve(c[0]).resolve(c[3]));
        }
        Files.createDirectories(folder.resolve("vae"));
        Files.copy(Golden.file("vae_tiny", "config.json"), folder.resolve("vae/config.json"));
        SafetensorsWriter.write(folder.resolve("vae/diffusion_pytorch_model.fp16.safetensors"),
                tensorsOf(DType.F16, new String[] {"vae_tiny", "vae_diffusers.safetensors"}));
        Files.createDirectories(folder.resolve("tokenizer"));
        for (String f : List.of("vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json")) {
            Files.copy(Golden.file("clip_tokenizer_real", f), folder.resolve("tokenizer").resolve(f));
        }
        Files.createDirectories(folder.resolve("scheduler"));
        Files.writeString(folder.resolve("scheduler/scheduler_config.json"), JSON.writeValueAsString(
                Map.of("_class_name", "DDIMScheduler", "prediction_type", predictionType, "steps_offset", 1)));
        return folder;
    }

    @Test
    void diffusersFolder() throws IOException {
        Path folder = diffusersFolder("v_prediction");
        try (DiscoveredModel model = ModelDiscovery.open(folder)) {
            assertEquals("tiny-diffusers", model.id());
            assertEquals(DiscoveredModel.Format.DIFFUSERS_FOLDER, model.format());
            assertEquals(folder.resolve("unet/diffusion_pytorch_model.safetensors"), model.hashedFile());
            assertEquals("v_prediction", model.predictionType());
            assertEquals(1, model.schedulerConfig().orElseThrow().get("steps_offset").asInt());
            assertEquals(Golden.json("unet_tiny", "config.json"), model.unet().config());
            assertEquals(Golden.json("vae_tiny", "config.json"), model.vae().config());
            assertEquals(Golden.json("clip_text_tiny", "config.json"), model.textEncoder().config());
            assertEquals(names("vae_tiny", "vae_diffusers.safetensors"), new TreeSet<>(model.vae().weights().names()));
            assertEquals(folder.resolve("tokenizer"), model.tokenizer().folder().orElseThrow());
            assertEquals("<|endoftext|>", model.tokenizer().padToken());
        }
        try (DiscoveredModel model = ModelDiscovery.open(folder, "epsilon")) {
            assertEquals("epsilon", model.predictionType());
        }
    }

    @Test
    void folderWithOnlyPickleWeightsIsRefused() throws IOException {
        Path folder = diffusersFolder("epsilon");
        Files.delete(folder.resolve("unet/diffusion_pytorch_model.safetensors"));
        Files.write(folder.resolve("unet/diffusion_pytorch_model.bin"), new byte[] {'P', 'K', 3, 4});
        UnsafeCheckpointException e = assertThrows(UnsafeCheckpointException.class, () -> ModelDiscovery.open(folder));
        assertTrue(e.getMessage().contains("diffusion_pytorch_model.bin"), e.getMessage());
        assertTrue(e.getMessage().contains("arbitrary code"), e.getMessage());
    }

    @Test
    void pickleCheckpointIsRefused() throws IOException {
        Path ckpt = dir.resolve("v1-5-pruned.ckpt");
        Files.write(ckpt, new byte[] {'P', 'K', 3, 4});
        UnsafeCheckpointException e = assertThrows(UnsafeCheckpointException.class, () -> ModelDiscovery.open(ckpt));
        assertTrue(e.getMessage().contains("convert it to .safetensors"), e.getMessage());
    }

    @Test
    void clearErrors() throws IOException {
        IOException missing = assertThrows(IOException.class, () -> ModelDiscovery.open(dir.resolve("nope.safetensors")));
        assertTrue(missing.getMessage().contains("nope.safetensors"));

        Path folder = dir.resolve("not-diffusers");
        Files.createDirectories(folder);
        IOException noIndex = assertThrows(IOException.class, () -> ModelDiscovery.open(folder));
        assertTrue(noIndex.getMessage().contains("model_index.json"), noIndex.getMessage());

        Path unetOnly = dir.resolve("unet-only.safetensors");
        SafetensorsWriter.write(unetOnly, tensorsOf(DType.F32, new String[] {"unet_tiny", "unet_original.safetensors"}));
        IOException noVae = assertThrows(IOException.class, () -> ModelDiscovery.open(unetOnly));
        assertTrue(noVae.getMessage().contains(unetOnly.toString()) && noVae.getMessage().contains("first_stage_model."),
                noVae.getMessage());

        IllegalArgumentException badType = assertThrows(IllegalArgumentException.class,
                () -> ModelDiscovery.open(unetOnly, "sample"));
        assertTrue(badType.getMessage().contains("'sample'"));
    }
}
