package daguerre.weights.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.weights.Golden;
import daguerre.weights.layout.OriginalLayouts;
import daguerre.weights.layout.OriginalNames;
import daguerre.weights.safetensors.SafetensorsWriter;
import daguerre.weights.safetensors.SafetensorsWriter.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SDXL LoRA names against the tiny SDXL golden model's parameters: kohya's {@code lora_te1_} /
 * {@code lora_te2_} and U-Net modules under their original SGM names ({@code lora_unet_input_blocks_4_1_...},
 * as kohya's sd-scripts write SDXL LoRAs), and diffusers' {@code text_encoder_2.} prefix.
 */
class SdxlLoraNamesTest {

    @TempDir
    Path temp;

    private static Map<LoraNetwork, Map<String, long[]>> tinyXl() throws IOException {
        Map<LoraNetwork, Map<String, long[]>> params = new EnumMap<>(LoraNetwork.class);
        params.put(LoraNetwork.UNET, LoraFileTest.shapes(Golden.file("unet_tiny_xl", "unet_diffusers.safetensors")));
        params.put(LoraNetwork.TEXT_ENCODER, LoraFileTest.shapes(Golden.file("clip_text_tiny_xl", "text_encoder_transformers.safetensors")));
        params.put(LoraNetwork.TEXT_ENCODER_2, LoraFileTest.shapes(Golden.file("clip_text_tiny_xl", "text_encoder_2_transformers.safetensors")));
        return params;
    }

    /** Factors of rank 2 for a target of {@code shape} (kohya shapes: 4-d for convolutions). */
    private static void factors(List<Tensor> tensors, String down, String up, long[] shape) {
        long inner = 1;
        for (int i = 1; i < shape.length; i++) {
            inner *= shape[i];
        }
        long[] downShape = shape.length == 2 ? new long[] {2, shape[1]} : new long[] {2, shape[1], shape[2], shape[3]};
        long[] upShape = shape.length == 2 ? new long[] {shape[0], 2} : new long[] {shape[0], 2, 1, 1};
        tensors.add(Tensor.f32(down, downShape, new float[(int) (2 * inner)]));
        tensors.add(Tensor.f32(up, upShape, new float[(int) (shape[0] * 2)]));
    }

    @Test
    void kohyaSdxlNamesResolve() throws IOException {
        Map<LoraNetwork, Map<String, long[]>> model = tinyXl();
        Map<String, long[]> unet = model.get(LoraNetwork.UNET);
        Map<String, String> original = OriginalNames.unet(unet.keySet());
        Map<String, LoraNetwork> expected = new LinkedHashMap<>();
        List<Tensor> tensors = new ArrayList<>();
        for (String key : unet.keySet()) {
            boolean wanted = key.endsWith(".attn2.to_k.weight") || key.endsWith(".ff.net.0.proj.weight")
                    || key.endsWith(".resnets.0.conv1.weight") || key.startsWith("add_embedding.linear_1.weight");
            if (wanted) {
                String ldm = original.get(key);
                String module = ldm.substring(OriginalLayouts.UNET_PREFIX.length(), ldm.length() - ".weight".length());
                String name = "lora_unet_" + module.replace('.', '_');
                factors(tensors, name + ".lora_down.weight", name + ".lora_up.weight", unet.get(key));
                tensors.add(Tensor.f32(name + ".alpha", new long[] {}, new float[] {1f}));
                expected.put(key, LoraNetwork.UNET);
            }
        }
        String q = "text_model.encoder.layers.0.self_attn.q_proj.weight";
        String fc1 = "text_model.encoder.layers.0.mlp.fc1.weight";
        factors(tensors, "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight",
                "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", model.get(LoraNetwork.TEXT_ENCODER).get(q));
        factors(tensors, "lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight",
                "lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", model.get(LoraNetwork.TEXT_ENCODER_2).get(fc1));
        Path file = temp.resolve("xl.safetensors");
        SafetensorsWriter.write(file, tensors);

        LoraFile lora = LoraFile.read(file, model);
        assertEquals(expected.size() + 2, lora.modules().size());
        for (LoraModule m : lora.modules(LoraNetwork.UNET)) {
            assertTrue(expected.containsKey(m.target()), m.toString());
            assertTrue(m.sourceKey().startsWith("lora_unet_input_blocks_") || m.sourceKey().startsWith("lora_unet_middle_block_")
                    || m.sourceKey().startsWith("lora_unet_output_blocks_") || m.sourceKey().startsWith("lora_unet_label_emb_"), m.toString());
            assertEquals(0.5f, m.alphaOverRank());
        }
        assertEquals(expected.size(), lora.modules(LoraNetwork.UNET).size());
        assertEquals(q, lora.modules(LoraNetwork.TEXT_ENCODER).get(0).target());
        assertEquals(fc1, lora.modules(LoraNetwork.TEXT_ENCODER_2).get(0).target());
        assertTrue(lora.modules().stream().anyMatch(m -> m.kind() == LoraKind.CONV_KXK));

        // an SD 1.x model has no second text encoder: the lora_te2_ module is refused by name
        Map<LoraNetwork, Map<String, long[]>> oneEncoder = new EnumMap<>(model);
        oneEncoder.remove(LoraNetwork.TEXT_ENCODER_2);
        IOException e = assertThrows(IOException.class, () -> LoraFile.read(file, oneEncoder));
        assertTrue(e.getMessage().contains("lora_te2_text_model_encoder_layers_0_mlp_fc1"), e.getMessage());
    }

    @Test
    void diffusersSecondTextEncoderPrefix() throws IOException {
        Map<LoraNetwork, Map<String, long[]>> model = tinyXl();
        String fc1 = "text_model.encoder.layers.0.mlp.fc1";
        List<Tensor> tensors = new ArrayList<>();
        factors(tensors, "text_encoder_2." + fc1 + ".lora_A.weight", "text_encoder_2." + fc1 + ".lora_B.weight",
                model.get(LoraNetwork.TEXT_ENCODER_2).get(fc1 + ".weight"));
        factors(tensors, "text_encoder." + fc1 + ".lora_A.weight", "text_encoder." + fc1 + ".lora_B.weight",
                model.get(LoraNetwork.TEXT_ENCODER).get(fc1 + ".weight"));
        Path file = temp.resolve("xl_diffusers.safetensors");
        SafetensorsWriter.write(file, tensors);
        LoraFile lora = LoraFile.read(file, model);
        assertEquals(List.of(LoraNetwork.TEXT_ENCODER_2, LoraNetwork.TEXT_ENCODER),
                lora.modules().stream().map(LoraModule::network).toList());
        assertFalse(lora.modules().stream().anyMatch(m -> m.alpha() != m.rank()));
    }
}
