package daguerre.weights.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.weights.Golden;
import daguerre.weights.TensorSource;
import daguerre.weights.layout.OriginalLayouts;
import daguerre.weights.model.ConfigInference.TextEncoderKind;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Configs inferred from original single files match the reference configs wherever shapes decide.
 * Fields that shapes cannot decide are filled from the model family's convention; those are checked
 * against a case only where the case's own config follows the convention (another case may, e.g., use
 * other head counts), and otherwise must still come out as the convention.
 */
class ConfigInferenceTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static final String[] UNET_SHAPE_FIELDS = {
        "in_channels", "out_channels", "block_out_channels", "layers_per_block", "down_block_types", "up_block_types",
        "cross_attention_dim", "use_linear_projection", "transformer_layers_per_block"
    };
    private static final String[] VAE_SHAPE_FIELDS = {
        "in_channels", "out_channels", "block_out_channels", "layers_per_block", "latent_channels",
        "down_block_types", "up_block_types"
    };
    private static final String[] TEXT_SHAPE_FIELDS = {
        "hidden_size", "intermediate_size", "vocab_size", "max_position_embeddings"
    };

    private static final String[] UNET_CONVENTION_FIELDS = {
        "attention_head_dim", "upcast_attention", "norm_num_groups", "norm_eps", "act_fn", "flip_sin_to_cos",
        "freq_shift", "downsample_padding", "center_input_sample", "mid_block_type"
    };
    private static final String[] VAE_CONVENTION_FIELDS = {"scaling_factor", "norm_num_groups", "act_fn"};
    private static final String[] TEXT_CONVENTION_FIELDS = {"hidden_act", "layer_norm_eps"};

    private static void assertFields(JsonNode expected, JsonNode actual, String... fields) {
        for (String field : fields) {
            assertTrue(actual.has(field), "inferred config lacks " + field);
            assertEquals(expected.get(field), actual.get(field), field);
        }
    }

    /**
     * For fields the layout cannot decide: where the case's config has the convention's value, the
     * inferred config must have it too; where the case departs from it, the inferred config must
     * still hold the convention (nothing else could be known from the file).
     *
     * @param convention the config inferred for a full-size checkpoint of the family, whose values
     *                   {@link #sd15ShapedCheckpoint} / {@link #sd21ShapedCheckpoint} pin
     * @return the fields in which the case follows the convention
     */
    static List<String> assertConventionsWhereFollowed(JsonNode expected, JsonNode inferred, JsonNode convention,
                                                       String... fields) {
        List<String> followed = new ArrayList<>();
        for (String field : fields) {
            assertTrue(inferred.has(field), "inferred config lacks " + field);
            assertTrue(convention.has(field), "the convention has no " + field);
            assertEquals(convention.get(field), inferred.get(field), field + ": shapes do not decide it, so the convention");
            if (numericEquals(convention.get(field), expected.get(field))) {
                followed.add(field);
            }
        }
        System.out.println("case follows the convention in " + followed + " of " + List.of(fields));
        return followed;
    }

    /** JSON equality with numbers compared by value (1e-05 and 1.0E-5, 0 and 0.0). */
    static boolean numericEquals(JsonNode a, JsonNode b) {
        if (a == null || b == null) {
            return a == b;
        }
        if (a.isNumber() && b.isNumber()) {
            return a.decimalValue().compareTo(b.decimalValue()) == 0;
        }
        return a.equals(b);
    }

    /** The SD 1.x conventions: what inference gives for an SD 1.5-shaped checkpoint. */
    static ObjectNode sd1UnetConvention() throws IOException {
        return ConfigInference.unet(OriginalLayouts.unet(SyntheticLdm.sd15()), "epsilon");
    }

    static ObjectNode sd2UnetConvention() throws IOException {
        return ConfigInference.unet(OriginalLayouts.unet(SyntheticLdm.sd21()), "epsilon");
    }

    @Test
    void goldenSd1UnetConfig() throws IOException {
        try (SafetensorsFile original = Golden.tensors("unet_tiny", "unet_original.safetensors")) {
            JsonNode expected = Golden.json("unet_tiny", "config.json");
            ObjectNode inferred = ConfigInference.unet(OriginalLayouts.unet(original), "epsilon");
            assertFields(expected, inferred, UNET_SHAPE_FIELDS);
            assertConventionsWhereFollowed(expected, inferred, sd1UnetConvention(), UNET_CONVENTION_FIELDS);
        }
    }

    /** Transformer blocks per level with attention, and the mid block's, from an int or per-level list (diffusers' rule). */
    private static List<Integer> transformerDepths(JsonNode config) {
        JsonNode depth = config.get("transformer_layers_per_block");
        JsonNode down = config.get("down_block_types");
        List<Integer> depths = new ArrayList<>();
        for (int i = 0; i < down.size(); i++) {
            if (down.get(i).asText().startsWith("CrossAttn")) {
                depths.add(depth.isArray() ? depth.get(i).asInt() : depth.asInt());
            }
        }
        depths.add(depth.isArray() ? depth.get(depth.size() - 1).asInt() : depth.asInt());
        return depths;
    }

    @Test
    void goldenSdxlUnetConfig() throws IOException {
        java.nio.file.Path pipeline = Golden.caseDir("pipeline_tiny_xl").resolve("pipeline");
        JsonNode expected = JSON.readTree(pipeline.resolve("unet/config.json").toFile());
        int pooled = JSON.readTree(pipeline.resolve("text_encoder_2/config.json").toFile()).get("projection_dim").asInt();
        try (SafetensorsFile unet = SafetensorsFile.open(pipeline.resolve("unet/diffusion_pytorch_model.safetensors"))) {
            ObjectNode inferred = ConfigInference.unet(unet, "epsilon", pooled);
            assertFields(expected, inferred, "in_channels", "out_channels", "block_out_channels", "layers_per_block",
                    "down_block_types", "up_block_types", "cross_attention_dim", "use_linear_projection",
                    "addition_embed_type", "addition_time_embed_dim", "projection_class_embeddings_input_dim");
            assertEquals(transformerDepths(expected), transformerDepths(inferred), "transformer blocks per level");
            assertEquals(ConfigInference.SDXL_SAMPLE_SIZE, inferred.get("sample_size").asInt());
            assertEquals(false, inferred.get("upcast_attention").asBoolean());
            // without the encoder's width, SDXL base's 1280 is assumed: this toy's inputs do not fit it
            int inputs = expected.get("projection_class_embeddings_input_dim").asInt();
            if (inputs <= ConfigInference.SDXL_POOLED_DIM) {
                String message = assertThrows(IOException.class, () -> ConfigInference.unet(unet, "epsilon")).getMessage();
                assertTrue(message.contains("add_embedding.linear_1 takes " + inputs + " inputs"), message);
            }
        }
    }

    @Test
    void sdxlBaseShapedUnetConfig() throws IOException {
        ObjectNode inferred = ConfigInference.unet(OriginalLayouts.unet(SyntheticLdm.sdxl()), "epsilon");
        assertEquals(JSON.readTree("[1,2,10]"), inferred.get("transformer_layers_per_block"));
        assertEquals(JSON.readTree("[5,10,20]"), inferred.get("attention_head_dim"));
        assertEquals(256, inferred.get("addition_time_embed_dim").asInt());
        assertEquals(2816, inferred.get("projection_class_embeddings_input_dim").asInt());
        assertEquals(2048, inferred.get("cross_attention_dim").asInt());
        assertEquals(128, inferred.get("sample_size").asInt());
    }

    @Test
    void goldenSd2UnetConfig() throws IOException {
        try (SafetensorsFile original = Golden.tensors("unet_tiny_v2", "unet_original.safetensors")) {
            JsonNode expected = Golden.json("unet_tiny_v2", "config.json");
            ObjectNode inferred = ConfigInference.unet(OriginalLayouts.unet(original), "epsilon");
            assertFields(expected, inferred, UNET_SHAPE_FIELDS);
            // SD 2.x heads are 64 wide: per-level counts follow from the channels, so a case with other
            // widths differs in the values; the list form and its length are decided by the layout
            assertTrue(inferred.get("attention_head_dim").isArray());
            assertEquals(expected.get("block_out_channels").size(), inferred.get("attention_head_dim").size());
            if (expected.get("attention_head_dim").isArray()) {
                assertEquals(expected.get("attention_head_dim").size(), inferred.get("attention_head_dim").size());
            }
            assertConventionsWhereFollowed(expected, inferred, sd2UnetConvention(), "upcast_attention", "norm_eps",
                    "act_fn", "flip_sin_to_cos", "freq_shift", "downsample_padding", "center_input_sample", "mid_block_type");
        }
    }

    @Test
    void goldenVaeConfig() throws IOException {
        try (SafetensorsFile original = Golden.tensors("vae_tiny", "vae_original.safetensors")) {
            JsonNode expected = Golden.json("vae_tiny", "config.json");
            ObjectNode inferred = ConfigInference.vae(OriginalLayouts.vae(original));
            assertFields(expected, inferred, VAE_SHAPE_FIELDS);
            assertConventionsWhereFollowed(expected, inferred, ConfigInference.vae(OriginalLayouts.vae(SyntheticLdm.sd15())),
                    VAE_CONVENTION_FIELDS);
        }
    }

    @Test
    void goldenSd1TextEncoderConfig() throws IOException {
        try (SafetensorsFile original = Golden.tensors("clip_text_tiny", "text_encoder_original.safetensors")) {
            JsonNode expected = Golden.json("clip_text_tiny", "config.json");
            ObjectNode inferred = ConfigInference.textEncoder(OriginalLayouts.clipText(original), TextEncoderKind.CLIP);
            assertFields(expected, inferred, TEXT_SHAPE_FIELDS);
            assertFields(expected, inferred, "num_hidden_layers");
            assertConventionsWhereFollowed(expected, inferred,
                    ConfigInference.textEncoder(OriginalLayouts.clipText(SyntheticLdm.sd15()), TextEncoderKind.CLIP),
                    TEXT_CONVENTION_FIELDS);
        }
    }

    @Test
    void goldenSd2TextEncoderConfig() throws IOException {
        try (SafetensorsFile original = Golden.tensors("clip_text_tiny_gelu", "text_encoder_original.safetensors")) {
            JsonNode expected = Golden.json("clip_text_tiny_gelu", "config.json");
            int layers = expected.get("num_hidden_layers").asInt();
            ObjectNode inferred = ConfigInference.textEncoder(OriginalLayouts.openClipText(original, layers),
                    TextEncoderKind.OPEN_CLIP);
            assertFields(expected, inferred, TEXT_SHAPE_FIELDS);
            assertFields(expected, inferred, "num_hidden_layers");
            SyntheticLdm sd21 = SyntheticLdm.sd21();
            assertConventionsWhereFollowed(expected, inferred, ConfigInference.textEncoder(
                    OriginalLayouts.openClipText(sd21, OriginalLayouts.openClipResblocks(sd21) - 1), TextEncoderKind.OPEN_CLIP),
                    TEXT_CONVENTION_FIELDS);
        }
    }

    @Test
    void sd15ShapedCheckpoint() throws IOException {
        SyntheticLdm sd15 = SyntheticLdm.sd15();
        TensorSource unet = OriginalLayouts.unet(sd15);
        TensorSource vae = OriginalLayouts.vae(sd15);
        TensorSource text = OriginalLayouts.clipText(sd15);
        // the tensor counts of the diffusers SD 1.5 unet / vae / text_encoder state dicts
        assertEquals(686, unet.names().size());
        assertEquals(248, vae.names().size());
        assertEquals(196, text.names().size());
        assertEquals(JSON.readTree("""
                {"_class_name":"UNet2DConditionModel","sample_size":64,"in_channels":4,"out_channels":4,
                 "block_out_channels":[320,640,1280,1280],"layers_per_block":2,
                 "down_block_types":["CrossAttnDownBlock2D","CrossAttnDownBlock2D","CrossAttnDownBlock2D","DownBlock2D"],
                 "mid_block_type":"UNetMidBlock2DCrossAttn",
                 "up_block_types":["UpBlock2D","CrossAttnUpBlock2D","CrossAttnUpBlock2D","CrossAttnUpBlock2D"],
                 "cross_attention_dim":768,"transformer_layers_per_block":1,"attention_head_dim":8,
                 "use_linear_projection":false,"upcast_attention":false,"norm_num_groups":32,"norm_eps":1e-5,
                 "act_fn":"silu","flip_sin_to_cos":true,"freq_shift":0,"downsample_padding":1,"center_input_sample":false}
                """), ConfigInference.unet(unet, "epsilon"));
        assertEquals(JSON.readTree("""
                {"_class_name":"AutoencoderKL","in_channels":3,"out_channels":3,"block_out_channels":[128,256,512,512],
                 "down_block_types":["DownEncoderBlock2D","DownEncoderBlock2D","DownEncoderBlock2D","DownEncoderBlock2D"],
                 "up_block_types":["UpDecoderBlock2D","UpDecoderBlock2D","UpDecoderBlock2D","UpDecoderBlock2D"],
                 "layers_per_block":2,"latent_channels":4,"norm_num_groups":32,"act_fn":"silu","scaling_factor":0.18215}
                """), ConfigInference.vae(vae));
        assertEquals(JSON.readTree("""
                {"architectures":["CLIPTextModel"],"model_type":"clip_text_model","hidden_size":768,
                 "intermediate_size":3072,"num_hidden_layers":12,"num_attention_heads":12,"vocab_size":49408,
                 "max_position_embeddings":77,"hidden_act":"quick_gelu","layer_norm_eps":1e-5}
                """), ConfigInference.textEncoder(text, TextEncoderKind.CLIP));
    }

    @Test
    void sd21ShapedCheckpoint() throws IOException {
        SyntheticLdm sd21 = SyntheticLdm.sd21();
        TensorSource unet = OriginalLayouts.unet(sd21);
        assertEquals(686, unet.names().size());
        ObjectNode v = ConfigInference.unet(unet, "v_prediction");
        assertEquals(JSON.readTree("[5,10,20,20]"), v.get("attention_head_dim"));
        assertEquals(1024, v.get("cross_attention_dim").asInt());
        assertTrue(v.get("use_linear_projection").asBoolean());
        assertTrue(v.get("upcast_attention").asBoolean());
        assertEquals(96, v.get("sample_size").asInt());
        assertEquals(64, ConfigInference.unet(unet, "epsilon").get("sample_size").asInt());

        // SD 2.x conditions on the penultimate of 24 OpenCLIP blocks: diffusers' 23-layer text encoder
        int layers = OriginalLayouts.openClipResblocks(sd21) - 1;
        TensorSource text = OriginalLayouts.openClipText(sd21, layers);
        assertEquals(2 + 23 * 16 + 2, text.names().size());
        assertEquals(JSON.readTree("""
                {"architectures":["CLIPTextModel"],"model_type":"clip_text_model","hidden_size":1024,
                 "intermediate_size":4096,"num_hidden_layers":23,"num_attention_heads":16,"vocab_size":49408,
                 "max_position_embeddings":77,"hidden_act":"gelu","layer_norm_eps":1e-5}
                """), ConfigInference.textEncoder(text, TextEncoderKind.OPEN_CLIP));
        assertArrayEquals(new long[] {1024, 1024}, text.shape("text_model.encoder.layers.22.self_attn.v_proj.weight"));
        assertArrayEquals(new long[] {1024}, text.shape("text_model.encoder.layers.22.self_attn.k_proj.bias"));
    }

    @Test
    void missingTensorsAreNamed() {
        IOException e = assertThrows(IOException.class, () -> ConfigInference.vae(SyntheticLdm.sd15()));
        assertTrue(e.getMessage().contains("encoder.down_blocks"), e.getMessage());
    }
}
