package daguerre.server.jobs;

import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.text.ClipTokenizer;
import daguerre.diffusion.text.PromptEncoder;
import daguerre.weights.model.TokenizerFiles;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Counts prompt chunks with the bundled OpenAI CLIP vocabulary (the SD 1.x tokenizer), loaded once
 * on first use: {@link ImageEngine#promptChunks}'s default, for engines whose models carry no
 * tokenizer of their own.
 */
final class BundledClipChunks {

    private BundledClipChunks() {}

    private static final class Holder {
        static final ClipTokenizer TOKENIZER = load();

        private static ClipTokenizer load() {
            try {
                return StableDiffusionModel.loadTokenizer(TokenizerFiles.bundledClip(TokenizerFiles.SD1_PAD_TOKEN));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the bundled CLIP vocabulary: " + e.getMessage(), e);
            }
        }
    }

    /** The chunks of 75 tokens {@code prompt} takes, cut as the prompt encoder cuts it with A1111's defaults. */
    static int chunks(String prompt) {
        return PromptEncoder.chunk(Holder.TOKENIZER, PromptEncoder.Options.DEFAULTS, prompt).chunks().size();
    }
}
