package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * SDXL's text conditioning from its two text encoders: {@code prompt_embeds} [B, 77k, D1 + D2], the
 * concatenation along features of encoder 1's (CLIP ViT-L) and encoder 2's (OpenCLIP ViT-bigG) raw
 * hidden states, and {@code pooled_prompt_embeds} [B, P], encoder 2's {@code text_embeds}.
 *
 * <p><b>Clip skip.</b> {@link PromptEncoder.Options#clipSkip()} keeps Daguerre's A1111 convention (1 = the
 * default, nothing skipped). For SDXL it selects {@code hidden_states[-(clipSkip + 1)]} of BOTH encoders, raw
 * (no final LayerNorm): clip skip 1 is SDXL's usual penultimate layer (diffusers' {@code clip_skip=None}),
 * clip skip N is diffusers' {@code clip_skip = N - 1} ({@code hidden_states[-(N - 1 + 2)]}) — the same
 * offset as for SD 1.x ({@link ClipTextModel}), where A1111's N is diffusers' k + 1. The pooled embedding
 * always comes from the last layer (final LayerNorm, projection), whatever the clip skip.
 *
 * <p>Two ways to encode:
 * <ul>
 *   <li>{@link #encodeTruncated} / {@link #encodeIds}: exactly diffusers'
 *       {@code StableDiffusionXLPipeline.encode_prompt}: each tokenizer pads/truncates to 77 ids, no
 *       emphasis syntax;</li>
 *   <li>{@link #encode} / {@link #encodeSameLength}: A1111's prompt syntax as {@link PromptEncoder} handles
 *       it (emphasis, {@code BREAK}, 75-token chunks with comma backtracking), chunked separately with each
 *       tokenizer (they differ on {@code !}); the encoder with fewer chunks gets empty chunks so that both
 *       give 77k positions; each encoder's chunks are weighted by its own multipliers, and the pooled
 *       embedding is that of the first chunk, as A1111 does.</li>
 * </ul>
 *
 * <p><b>Negative prompt.</b> With {@code forceZerosForEmptyPrompt} (SDXL base's
 * {@code force_zeros_for_empty_prompt}) an absent or empty negative prompt conditions with zeros of the
 * positive's shape ({@link #encodeWithNegative}, {@link #negativeTruncated}). diffusers zeroes only an absent ({@code None}) one and encodes
 * {@code ""}; Daguerre's requests do not tell the two apart, so both give zeros. A non-empty negative prompt
 * is encoded like the prompt, with the same clip skip (diffusers 0.27.2 ignores clip_skip on that branch and
 * always takes hidden_states[-2]; A1111 applies it to both).
 */
public final class SdxlPromptEncoder {

    /**
     * SDXL's four text components, named as in a diffusers folder.
     *
     * @param tokenizer {@code tokenizer} (pads with {@code <|endoftext|>})
     * @param textEncoder {@code text_encoder}, CLIP ViT-L
     * @param tokenizer2 {@code tokenizer_2} (pad token {@code !})
     * @param textEncoder2 {@code text_encoder_2}, OpenCLIP ViT-bigG with its projection
     */
    public record TextEncoders(ClipTokenizer tokenizer, ClipTextModel textEncoder, ClipTokenizer tokenizer2,
                               ClipTextModelWithProjection textEncoder2) {

        public TextEncoders {
            Objects.requireNonNull(tokenizer, "tokenizer");
            Objects.requireNonNull(textEncoder, "textEncoder");
            Objects.requireNonNull(tokenizer2, "tokenizer2");
            Objects.requireNonNull(textEncoder2, "textEncoder2");
        }
    }

    /** The prompt embeddings SDXL's U-Net is conditioned on, in the caller's manager. */
    public record Embeddings(NDArray promptEmbeds, NDArray pooledPromptEmbeds) {

        /** Zeros of the same shapes (and manager, device and type). */
        public Embeddings zerosLike() {
            return new Embeddings(promptEmbeds.zerosLike(), pooledPromptEmbeds.zerosLike());
        }
    }

    private final TextEncoders encoders;
    private final PromptEncoder.Options options;
    private final boolean forceZerosForEmptyPrompt;
    private final ExtraTokens extras;
    private final ExtraTokens extras2;

    public SdxlPromptEncoder(TextEncoders encoders, PromptEncoder.Options options, boolean forceZerosForEmptyPrompt) {
        this(encoders, options, forceZerosForEmptyPrompt, ExtraTokens.NONE, ExtraTokens.NONE);
    }

    /**
     * An encoder whose A1111-syntax prompts may use textual-inversion embeddings: {@code extras} for
     * encoder 1 (an SDXL embedding's {@code clip_l} vectors), {@code extras2} for encoder 2 ({@code clip_g}).
     */
    public SdxlPromptEncoder(TextEncoders encoders, PromptEncoder.Options options, boolean forceZerosForEmptyPrompt,
                             ExtraTokens extras, ExtraTokens extras2) {
        this.encoders = Objects.requireNonNull(encoders, "encoders");
        this.options = Objects.requireNonNull(options, "options");
        this.forceZerosForEmptyPrompt = forceZerosForEmptyPrompt;
        this.extras = Objects.requireNonNull(extras, "extras");
        this.extras2 = Objects.requireNonNull(extras2, "extras2");
        int positions = PromptEncoder.CHUNK_LENGTH + 2;
        for (ClipTextModel model : List.of(encoders.textEncoder(), encoders.textEncoder2())) {
            if (model.config().maxPositionEmbeddings() < positions) {
                throw new IllegalArgumentException("text model has only " + model.config().maxPositionEmbeddings()
                        + " positions; prompt chunks need " + positions);
            }
            if (options.clipSkip() > model.layerCount()) {   // hidden_states has layerCount + 1 entries
                throw new IllegalArgumentException("clip skip " + options.clipSkip() + " needs hidden state -"
                        + (options.clipSkip() + 1) + " but a text encoder has only " + model.layerCount() + " layers");
            }
        }
    }

    public PromptEncoder.Options options() {
        return options;
    }

    /** Which raw hidden state counted from the end both encoders give: clip skip + 1 (2 = the penultimate layer). */
    public int hiddenStateFromEnd() {
        return options.clipSkip() + 1;
    }

    // ---------------------------------------------------------------- diffusers' encode_prompt

    /**
     * diffusers' {@code encode_prompt} of a batch of prompts: each tokenizer's ids padded/truncated to 77
     * (BOS + 75 + EOS), then {@link #encodeIds}.
     *
     * @return prompt_embeds [B, 77, D1 + D2], pooled_prompt_embeds [B, P]
     */
    public Embeddings encodeTruncated(List<String> prompts, NDManager manager) {
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("no prompts to encode");
        }
        int positions = PromptEncoder.CHUNK_LENGTH + 2;
        try (NDManager scope = manager.newSubManager()) {
            NDArray ids = ids(encoders.tokenizer(), prompts, positions, scope);    // [B, 77]
            NDArray ids2 = ids(encoders.tokenizer2(), prompts, positions, scope);  // [B, 77]
            Embeddings out = encodeIds(ids, ids2, scope);
            out.promptEmbeds().attach(manager);
            out.pooledPromptEmbeds().attach(manager);
            return out;
        }
    }

    /**
     * Both encoders on prepared ids: concat(encoder 1 hidden_states[-n], encoder 2 hidden_states[-n]) along
     * features, n = {@link #hiddenStateFromEnd()}, and encoder 2's text_embeds.
     *
     * @param inputIds [B, L] int64 of {@code tokenizer}
     * @param inputIds2 [B, L] int64 of {@code tokenizer_2}
     * @return [B, L, D1 + D2] and [B, P] in {@code manager}
     */
    public Embeddings encodeIds(NDArray inputIds, NDArray inputIds2, NDManager manager) {
        if (!inputIds.getShape().equals(inputIds2.getShape())) {
            throw new IllegalArgumentException("ids of the two tokenizers differ in shape: " + inputIds.getShape()
                    + " and " + inputIds2.getShape());
        }
        try (NDManager scope = manager.newSubManager()) {
            NDArray[] hidden = encodeBoth(copy(inputIds, scope), copy(inputIds2, scope), scope);
            NDArray promptEmbeds = hidden[0].concat(hidden[1], -1);  // [B, L, D1] ++ [B, L, D2] -> [B, L, D1 + D2]
            NDArray pooled = hidden[2];                               // [B, P]
            promptEmbeds.attach(manager);
            pooled.attach(manager);
            return new Embeddings(promptEmbeds, pooled);
        }
    }

    /**
     * The negative side of classifier-free guidance for {@code positive}: zeros of its shapes when
     * {@code negativePrompt} is null or empty and {@code forceZerosForEmptyPrompt}, else the negative prompt
     * encoded as {@link #encodeTruncated} (repeated over the positive's batch).
     */
    public Embeddings negativeTruncated(String negativePrompt, Embeddings positive, NDManager manager) {
        if (zeroNegative(negativePrompt)) {
            return positive.zerosLike();
        }
        int batch = Math.toIntExact(positive.promptEmbeds().getShape().get(0));
        List<String> prompts = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            prompts.add(negativePrompt == null ? "" : negativePrompt);
        }
        return encodeTruncated(prompts, manager);
    }

    // ---------------------------------------------------------------- A1111 prompt syntax

    /** A1111-style encoding of one prompt: [1, 77k, D1 + D2] and pooled [1, P]. */
    public Embeddings encode(String prompt, NDManager manager) {
        return encodeSameLength(List.of(prompt), manager).get(0);
    }

    /**
     * Encodes several prompts (typically the prompt and the negative prompt) to the same length, shorter
     * ones extended with empty chunks, as {@link PromptEncoder#encodeSameLength} does.
     */
    public List<Embeddings> encodeSameLength(List<String> prompts, NDManager manager) {
        List<List<PromptChunk>> first = new ArrayList<>();
        List<List<PromptChunk>> second = new ArrayList<>();
        int most = 0;
        for (String prompt : prompts) {
            List<PromptChunk> chunks = new ArrayList<>(PromptEncoder.chunk(encoders.tokenizer(), options, prompt, extras).chunks());
            List<PromptChunk> chunks2 = new ArrayList<>(PromptEncoder.chunk(encoders.tokenizer2(), options, prompt, extras2).chunks());
            first.add(chunks);
            second.add(chunks2);
            most = Math.max(most, Math.max(chunks.size(), chunks2.size()));
        }
        PromptChunk empty = PromptEncoder.chunk(encoders.tokenizer(), options, "").chunks().get(0);
        PromptChunk empty2 = PromptEncoder.chunk(encoders.tokenizer2(), options, "").chunks().get(0);
        List<Embeddings> out = new ArrayList<>();
        for (int p = 0; p < prompts.size(); p++) {
            pad(first.get(p), empty, most);
            pad(second.get(p), empty2, most);
            out.add(encodeChunks(first.get(p), second.get(p), manager));
        }
        return out;
    }

    /**
     * {@link #encodeSameLength} of the prompt and its negative, the negative as zeros when absent or empty
     * and {@code forceZerosForEmptyPrompt}.
     *
     * @return [positive, negative]
     */
    public List<Embeddings> encodeWithNegative(String prompt, String negativePrompt, NDManager manager) {
        if (zeroNegative(negativePrompt)) {
            Embeddings positive = encode(prompt, manager);
            return List.of(positive, positive.zerosLike());
        }
        return encodeSameLength(List.of(prompt, negativePrompt), manager);
    }

    /**
     * Encodes prepared chunks, k of each tokenizer: each encoder runs its k chunks as one batch, emphasis
     * per encoder and chunk, [k, 77, Di] -> [1, 77k, Di], features concatenated; pooled from chunk 0.
     */
    public Embeddings encodeChunks(List<PromptChunk> chunks, List<PromptChunk> chunks2, NDManager manager) {
        if (chunks.size() != chunks2.size()) {
            throw new IllegalArgumentException("the two tokenizers' chunk counts differ: " + chunks.size()
                    + " and " + chunks2.size());
        }
        try (NDManager scope = manager.newSubManager()) {
            NDArray ids = PromptEncoder.inputIds(chunks, scope);
            NDArray ids2 = PromptEncoder.inputIds(chunks2, scope);
            NDArray[] hidden = extras.during(encoders.textEncoder(), scope, () -> extras2.during(encoders.textEncoder2(), scope,
                    () -> encodeBoth(ids, ids2, scope)));
            NDArray z = PromptEncoder.emphasize(hidden[0], PromptEncoder.multipliers(chunks, scope), options.emphasis());
            NDArray z2 = PromptEncoder.emphasize(hidden[1], PromptEncoder.multipliers(chunks2, scope), options.emphasis());
            NDArray promptEmbeds = z.concat(z2, -1);                        // [1, 77k, D1 + D2]
            NDArray pooled = hidden[2].get(new NDIndex("0:1"));            // [k, P] -> [1, P], the first chunk's
            promptEmbeds.attach(manager);
            pooled.attach(manager);
            return new Embeddings(promptEmbeds, pooled);
        }
    }

    // ---------------------------------------------------------------- internals

    private boolean zeroNegative(String negativePrompt) {
        return forceZerosForEmptyPrompt && (negativePrompt == null || negativePrompt.isEmpty());
    }

    /**
     * encoder 1 hidden_states[-n] [B, L, D1], encoder 2 hidden_states[-n] [B, L, D2] and encoder 2 text_embeds
     * [B, P], all in {@code scope} (which must own the ids).
     */
    private NDArray[] encodeBoth(NDArray inputIds, NDArray inputIds2, NDManager scope) {
        int n = hiddenStateFromEnd();
        NDArray hidden = encoders.textEncoder().hiddenStateFromEnd(inputIds, n);              // [B, L, D1]
        ClipTextProjectionOutput out = encoders.textEncoder2().forwardWithProjection(inputIds2);
        NDArray hidden2 = out.text().hiddenStateFromEnd(n);                                   // [B, L, D2]
        return new NDArray[] {hidden, hidden2, out.textEmbeds()};
    }

    /** {@code ids} as int64 in {@code manager}, so that the encoders' outputs land there. */
    private static NDArray copy(NDArray ids, NDManager manager) {
        return manager.create(ids.toType(DataType.INT64, false).toLongArray(), ids.getShape());
    }

    private static void pad(List<PromptChunk> chunks, PromptChunk empty, int count) {
        while (chunks.size() < count) {
            chunks.add(empty);
        }
    }

    /** Each prompt's ids padded/truncated to {@code positions}, as one [B, positions] int64 batch. */
    private static NDArray ids(ClipTokenizer tokenizer, List<String> prompts, int positions, NDManager manager) {
        long[] ids = new long[prompts.size() * positions];
        for (int b = 0; b < prompts.size(); b++) {
            int[] row = tokenizer.encode(prompts.get(b), positions);
            for (int i = 0; i < positions; i++) {
                ids[b * positions + i] = row[i];
            }
        }
        return manager.create(ids, new Shape(prompts.size(), positions));
    }
}
