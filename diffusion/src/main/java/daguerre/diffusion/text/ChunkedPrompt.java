package daguerre.diffusion.text;

import java.util.List;

/**
 * A prompt cut into text-model chunks, as A1111 cuts it.
 *
 * @param chunks one or more chunks of 77 positions
 * @param tokenCount prompt tokens counted as A1111's token counter does (full chunks count 75 each)
 * @param embeddings the textual-inversion embeddings the prompt uses, by name, in order of first use
 */
public record ChunkedPrompt(List<PromptChunk> chunks, int tokenCount, List<String> embeddings) {

    public ChunkedPrompt {
        chunks = List.copyOf(chunks);
        embeddings = List.copyOf(embeddings);
    }
}
