package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.text.ClipTextModel;
import daguerre.diffusion.text.ClipTextModelWithProjection;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.diffusion.vae.AutoencoderKL;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The presets' sizes. Modules are built without values (parameters hold shapes only until
 * initialised or loaded), so counting SDXL's 3.5 B parameters allocates nothing.
 */
class ModelPresetTest {

    /**
     * SDXL base 1.0's published parameter counts (diffusers' {@code num_parameters()} of
     * stabilityai/stable-diffusion-xl-base-1.0): U-Net 2,567,463,684; text_encoder (CLIP ViT-L)
     * 123,060,480; text_encoder_2 (OpenCLIP ViT-bigG with text_projection) 694,659,840; VAE 83,653,863.
     */
    @Test
    void sdxlHasSdxlBasesParameterCounts() {
        ModelPreset sdxl = ModelPreset.SDXL;
        assertEquals(2_567_463_684L, new UNet2DConditionModel(sdxl.unet()).parameterCount());
        assertEquals(123_060_480L, new ClipTextModel(sdxl.textEncoder()).parameterCount());
        assertEquals(694_659_840L, new ClipTextModelWithProjection(sdxl.textEncoder2()).parameterCount());
        assertEquals(83_653_863L, new AutoencoderKL(sdxl.vae()).parameterCount());
    }

    /** Its keys and shapes: the per-level transformer depth and the added embedding of the real checkpoint. */
    @Test
    void sdxlHasSdxlBasesStructure() {
        var unet = new UNet2DConditionModel(ModelPreset.SDXL.unet()).namedParameters();
        // 10 transformer blocks per Transformer2DModel at the lowest level, 2 at the middle one, none at the top
        assertTrue(unet.containsKey("down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_k.weight"));
        assertFalse(unet.containsKey("down_blocks.2.attentions.1.transformer_blocks.10.attn1.to_q.weight"));
        assertTrue(unet.containsKey("down_blocks.1.attentions.0.transformer_blocks.1.ff.net.2.weight"));
        assertFalse(unet.containsKey("down_blocks.1.attentions.0.transformer_blocks.2.ff.net.2.weight"));
        assertFalse(unet.keySet().stream().anyMatch(k -> k.startsWith("down_blocks.0.attentions")));
        assertTrue(unet.containsKey("up_blocks.0.attentions.2.transformer_blocks.9.norm3.weight"));
        assertTrue(unet.containsKey("mid_block.attentions.0.transformer_blocks.9.attn1.to_out.0.weight"));
        assertFalse(unet.keySet().stream().anyMatch(k -> k.startsWith("up_blocks.2.attentions")));
        assertShape(unet.get("down_blocks.2.attentions.0.transformer_blocks.0.attn2.to_k.weight"), 1280, 2048);
        assertShape(unet.get("down_blocks.1.attentions.0.proj_in.weight"), 640, 640);  // linear projection
        assertShape(unet.get("add_embedding.linear_1.weight"), 1280, 2816);
        assertShape(unet.get("add_embedding.linear_2.weight"), 1280, 1280);
        assertShape(unet.get("conv_in.weight"), 320, 4, 3, 3);
        var text2 = new ClipTextModelWithProjection(ModelPreset.SDXL.textEncoder2()).namedParameters();
        assertShape(text2.get("text_projection.weight"), 1280, 1280);
        assertShape(text2.get("text_model.embeddings.token_embedding.weight"), 49408, 1280);
        assertTrue(text2.containsKey("text_model.encoder.layers.31.mlp.fc2.weight"));
        assertEquals(0.13025f, ModelPreset.SDXL.vae().scalingFactor());
        assertEquals(128, ModelPreset.SDXL.unet().sampleSize());
    }

    @Test
    void sdPresetsHaveNoSecondEncoderAndXlPresetsHaveOne() {
        for (ModelPreset preset : List.of(ModelPreset.SD15, ModelPreset.SMALL, ModelPreset.TINY)) {
            assertNull(preset.textEncoder2(), preset.name());
            assertFalse(preset.isSdxl(), preset.name());
        }
        for (ModelPreset preset : List.of(ModelPreset.SDXL, ModelPreset.TINY_XL)) {
            assertTrue(preset.isSdxl(), preset.name());
            assertTrue(preset.unet().hasTextTime(), preset.name());
        }
        assertSame(ModelPreset.SDXL, ModelPreset.named("SDXL"));
        assertSame(ModelPreset.TINY_XL, ModelPreset.named("tiny-xl"));
    }

    @Test
    void refusesAMismatchedSecondEncoder() {
        ModelPreset xl = ModelPreset.TINY_XL;
        assertThrows(IllegalArgumentException.class, () -> new ModelPreset("x", xl.unet(), xl.vae(), xl.textEncoder()));
        assertThrows(IllegalArgumentException.class,
                () -> new ModelPreset("x", ModelPreset.TINY.unet(), xl.vae(), xl.textEncoder(), xl.textEncoder2()));
        // context 32 + 768 is not the U-Net's 64
        assertThrows(IllegalArgumentException.class,
                () -> new ModelPreset("x", xl.unet(), xl.vae(), xl.textEncoder(), ModelPreset.SD15.textEncoder()));
    }

    /** The tiny SDXL-shaped preset builds, with its second tokenizer padding with "!". */
    @Test
    void randomTinyXlModelIsSdxl() throws Exception {
        try (StableDiffusionModel model = RandomModel.create(ModelPreset.TINY_XL, 3)) {
            assertTrue(model.isSdxl());
            assertEquals("random-tiny-xl", model.id());
            var second = model.secondTextEncoder().orElseThrow();
            assertEquals("!", second.tokenizer().padToken());
            assertEquals("<|endoftext|>", model.tokenizer().padToken());
            assertTrue(second.forceZerosForEmptyPrompt());
            assertEquals(ModelPreset.TINY_XL.textEncoder2(), second.encoder().config());
            assertEquals(ModelPreset.TINY_XL.unet(), model.unet().config());
        }
    }

    private static void assertShape(Parameter parameter, long... dims) {
        assertEquals(new ai.djl.ndarray.types.Shape(dims), parameter.shape());
    }
}
