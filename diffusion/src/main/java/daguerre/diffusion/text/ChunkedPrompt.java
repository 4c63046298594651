package daguerre.diffusion.text;

import java.util.List;

/**
 * A prompt cut into text-model chunks, as A1111 cuts it.
 *
 * @param chunks one or more chunks of 77 positions
 * @param tokenCount prompt tokens counted as A1111's token counter does (full chunks count 75 each)
 */
public record ChunkedPrompt(List<PromptChunk> chunks, int tokenCount) {

    public ChunkedPrompt {
        chunks = List.copyOf(chunks);
    }
}
