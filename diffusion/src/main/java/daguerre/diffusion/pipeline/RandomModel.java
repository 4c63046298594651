package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDManager;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.nn.Initializers;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.text.ClipTextConfig;
import daguerre.diffusion.text.ClipTextModel;
import daguerre.diffusion.text.ClipTextModelWithProjection;
import daguerre.diffusion.text.ClipTokenizer;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.diffusion.vae.AutoencoderKL;
import daguerre.weights.model.ModelHasher;
import daguerre.weights.model.TokenizerFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.SplittableRandom;

/**
 * Builds a {@link StableDiffusionModel} of a {@link ModelPreset}'s size with seeded random weights
 * ({@link Initializers}) in memory, with the bundled OpenAI CLIP tokenizer and the SD 1.5 scheduler
 * settings (SDXL presets: also the second tokenizer, the same vocabulary padding with {@code !}, and
 * the second text encoder with its projection). Nothing is downloaded or read from disk but the tokenizer's vocabulary; the same preset
 * and seed give the same weights on every machine.
 */
public final class RandomModel {

    private RandomModel() {}

    /**
     * A random-weight model of {@code preset}'s size. Its id is {@code random-<preset>}; its hash,
     * having no file, is the first 10 hex digits of the SHA-256 of {@code "random:<preset>:<seed>"}.
     */
    public static StableDiffusionModel create(ModelPreset preset, long seed) throws IOException {
        return create(preset, seed, WeightPrecision.FLOAT32);
    }

    /** As {@link #create(ModelPreset, long)}, with the weights kept in {@code precision} (the float32 model's, rounded). */
    public static StableDiffusionModel create(ModelPreset preset, long seed, WeightPrecision precision) throws IOException {
        ClipTokenizer tokenizer = StableDiffusionModel.loadTokenizer(TokenizerFiles.bundledClip(TokenizerFiles.SD1_PAD_TOKEN));
        checkVocabulary(preset, preset.textEncoder(), tokenizer);
        SplittableRandom seeds = new SplittableRandom(seed);
        NDManager manager = DjlRuntime.newManager();
        try {
            ClipTextModel textEncoder = new ClipTextModel(preset.textEncoder());
            Initializers.initialize(textEncoder, seeds.nextLong(), manager, precision);
            StableDiffusionModel.SecondTextEncoder second = null;
            if (preset.isSdxl()) {
                ClipTokenizer tokenizer2 = StableDiffusionModel.loadTokenizer(TokenizerFiles.bundledClip(TokenizerFiles.SD2_PAD_TOKEN));
                checkVocabulary(preset, preset.textEncoder2(), tokenizer2);
                ClipTextModelWithProjection textEncoder2 = new ClipTextModelWithProjection(preset.textEncoder2());
                Initializers.initialize(textEncoder2, seeds.nextLong(), manager, precision);
                // SDXL base conditions an empty negative prompt on zeros (force_zeros_for_empty_prompt)
                second = new StableDiffusionModel.SecondTextEncoder(tokenizer2, textEncoder2, true);
            }
            UNet2DConditionModel unet = new UNet2DConditionModel(preset.unet());
            Initializers.initialize(unet, seeds.nextLong(), manager, precision);
            AutoencoderKL vae = new AutoencoderKL(preset.vae());
            Initializers.initialize(vae, seeds.nextLong(), manager, precision);
            String id = "random-" + preset.name();
            String hash = hash("random:" + preset.name() + ":" + seed);
            // SDXL base's scheduler has SD 1.5's betas, spacing and offset
            return second == null
                    ? StableDiffusionModel.of(id, hash, manager, tokenizer, textEncoder, unet, vae, SchedulerConfig.SD15)
                    : StableDiffusionModel.ofSdxl(id, hash, manager, tokenizer, textEncoder, second, unet, vae, SchedulerConfig.SD15);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    private static void checkVocabulary(ModelPreset preset, ClipTextConfig config, ClipTokenizer tokenizer) {
        if (tokenizer.vocabSize() > config.vocabSize()) {
            throw new IllegalArgumentException("preset " + preset.name() + ": text encoder vocabulary "
                    + config.vocabSize() + " is smaller than the tokenizer's " + tokenizer.vocabSize());
        }
    }

    private static String hash(String text) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest).substring(0, ModelHasher.SHORT_HASH_LENGTH);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
