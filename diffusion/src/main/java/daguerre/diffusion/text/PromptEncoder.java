package daguerre.diffusion.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns an AUTOMATIC1111-style prompt into the text conditioning [1, 77k, D], as A1111's
 * {@code FrozenCLIPEmbedderWithCustomWords} does (textual-inversion embeddings aside):
 * <ol>
 *   <li>{@link EmphasisParser} splits the prompt into weighted pieces; each piece is tokenized on its own;</li>
 *   <li>tokens fill chunks of 75; when a chunk is full and a comma lies within the last
 *       {@code commaPaddingBacktrack} tokens, the tokens after that comma move to the next chunk;
 *       {@code BREAK} closes the current chunk;</li>
 *   <li>each chunk gets BOS ... EOS, padded with EOS to 77; for tokenizers whose pad token differs
 *       (SD 2.x), every position after the first EOS becomes the pad id;</li>
 *   <li>the text model encodes each chunk (with {@link Options#clipSkip() clip skip}); hidden states are
 *       multiplied by their token's weight and, with {@link Emphasis#ORIGINAL}, rescaled so that each
 *       chunk keeps its original mean;</li>
 *   <li>chunks are concatenated along the sequence axis.</li>
 * </ol>
 * A prompt without emphasis, breaks or more than 75 tokens gives exactly the plain encoder output of
 * {@link ClipTokenizer#encode(String, int)}. Cheap to create; make one per request if options vary.
 */
public final class PromptEncoder {

    /** How the emphasis weights act (A1111's "Emphasis mode" setting). */
    public enum Emphasis {
        /** Multiply by the weights, then restore each chunk's mean (A1111's default, "Original"). */
        ORIGINAL,
        /** Multiply by the weights only ("No norm"). */
        NO_NORM,
        /** Brackets are parsed away and BREAK works, but weights are not applied ("Ignore"). */
        IGNORE,
        /** Brackets are plain text and BREAK is not special ("None"). */
        NONE
    }

    /**
     * @param clipSkip A1111's "Clip skip" (1 = last layer); see {@link ClipTextModel}
     * @param emphasis how weights act
     * @param commaPaddingBacktrack how far back (in tokens) a full chunk may be cut at a comma; 0 disables
     */
    public record Options(int clipSkip, Emphasis emphasis, int commaPaddingBacktrack) {

        /** A1111's defaults: clip skip 1, original emphasis, backtrack 20. */
        public static final Options DEFAULTS = new Options(1, Emphasis.ORIGINAL, 20);

        public Options {
            if (clipSkip < 1) {
                throw new IllegalArgumentException("clip skip must be at least 1, got " + clipSkip);
            }
            if (emphasis == null) {
                throw new IllegalArgumentException("emphasis must not be null");
            }
            if (commaPaddingBacktrack < 0 || commaPaddingBacktrack > CHUNK_LENGTH) {
                throw new IllegalArgumentException("comma padding backtrack must be in 0.." + CHUNK_LENGTH + ", got "
                        + commaPaddingBacktrack);
            }
        }

        public Options withClipSkip(int skip) {
            return new Options(skip, emphasis, commaPaddingBacktrack);
        }
    }

    /** Prompt tokens per chunk; each chunk is BOS + 75 + EOS = 77 positions. */
    public static final int CHUNK_LENGTH = 75;

    private final ClipTokenizer tokenizer;
    private final ClipTextModel model;
    private final Options options;
    private final ExtraTokens extras;

    public PromptEncoder(ClipTokenizer tokenizer, ClipTextModel model, Options options) {
        this(tokenizer, model, options, ExtraTokens.NONE);
    }

    /** An encoder whose prompts may use the textual-inversion embeddings of {@code extras}. */
    public PromptEncoder(ClipTokenizer tokenizer, ClipTextModel model, Options options, ExtraTokens extras) {
        if (CHUNK_LENGTH + 2 > model.config().maxPositionEmbeddings()) {
            throw new IllegalArgumentException("text model has only " + model.config().maxPositionEmbeddings()
                    + " positions; prompt chunks need " + (CHUNK_LENGTH + 2));
        }
        this.tokenizer = tokenizer;
        this.model = model;
        this.options = options;
        this.extras = extras;
    }

    public Options options() {
        return options;
    }

    /** Cuts {@code prompt} into chunks with per-token weights, without running the model. */
    public ChunkedPrompt chunk(String prompt) {
        return chunk(tokenizer, options, prompt, extras);
    }

    /**
     * Cuts {@code prompt} into chunks as an encoder with this tokenizer and these options would,
     * with no text model at all: for counting a prompt's chunks before any job runs.
     */
    public static ChunkedPrompt chunk(ClipTokenizer tokenizer, Options options, String prompt) {
        return chunk(tokenizer, options, prompt, ExtraTokens.NONE);
    }

    /**
     * As {@link #chunk(ClipTokenizer, Options, String)}, each trigger of {@code extras} in a piece's tokens
     * replaced by its vectors' ids with the piece's weight, kept whole in one chunk (A1111: an embedding
     * that does not fit in the chunk starts the next one).
     */
    public static ChunkedPrompt chunk(ClipTokenizer tokenizer, Options options, String prompt, ExtraTokens extras) {
        List<EmphasisParser.WeightedText> pieces = options.emphasis() == Emphasis.NONE
                ? List.of(new EmphasisParser.WeightedText(prompt, 1.0))
                : EmphasisParser.parse(prompt);
        Chunker chunker = new Chunker(tokenizer, options);
        List<String> used = new ArrayList<>();
        for (EmphasisParser.WeightedText piece : pieces) {
            if (piece.isBreak()) {
                chunker.closeChunk(false);
                continue;
            }
            int[] tokens = tokenizer.tokenIds(piece.text());
            for (int i = 0; i < tokens.length; ) {
                ExtraTokens.Entry embedding = extras.isEmpty() ? null : extras.match(tokens, i);
                if (embedding == null) {
                    chunker.add(tokens[i], (float) piece.weight());
                    i++;
                } else {
                    chunker.addWhole(extras.firstId(embedding), embedding.count(), (float) piece.weight());
                    if (!used.contains(embedding.name())) {
                        used.add(embedding.name());
                    }
                    i += embedding.triggerIds().length;
                }
            }
        }
        chunker.finish();
        return new ChunkedPrompt(chunker.chunks, chunker.tokenCount, used);
    }

    /** The chunk of an empty prompt (BOS, EOS, padding; all weights 1), used to lengthen shorter prompts. */
    public PromptChunk emptyChunk() {
        return chunk("").chunks().get(0);
    }

    /** The conditioning of {@code prompt}: [1, 77k, D] for a prompt of k chunks, in {@code manager}. */
    public NDArray encode(String prompt, NDManager manager) {
        return encode(chunk(prompt).chunks(), manager);
    }

    /**
     * Encodes several prompts (typically the prompt and the negative prompt) to the same length, as A1111
     * does before batching them: shorter ones are extended with {@link #emptyChunk() empty chunks}.
     *
     * @return one [1, 77k, D] array per prompt, k the largest chunk count
     */
    public List<NDArray> encodeSameLength(List<String> prompts, NDManager manager) {
        List<List<PromptChunk>> all = new ArrayList<>();
        int most = 0;
        for (String prompt : prompts) {
            List<PromptChunk> chunks = new ArrayList<>(chunk(prompt).chunks());
            all.add(chunks);
            most = Math.max(most, chunks.size());
        }
        PromptChunk empty = emptyChunk();
        List<NDArray> out = new ArrayList<>();
        for (List<PromptChunk> chunks : all) {
            while (chunks.size() < most) {
                chunks.add(empty);
            }
            out.add(encode(chunks, manager));
        }
        return out;
    }

    /**
     * Encodes prepared chunks: all chunks in one batch through the text model, emphasis per chunk,
     * then [k, 77, D] -> [1, 77k, D].
     */
    public NDArray encode(List<PromptChunk> chunks, NDManager manager) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray inputIds = inputIds(chunks, scope);                                            // [k, 77]
            NDArray z = extras.during(model, scope, () -> model.encode(inputIds, options.clipSkip())); // [k, 77, D]
            NDArray result = emphasize(z, multipliers(chunks, scope), options.emphasis());         // [1, 77k, D]
            result.attach(manager);
            return result;
        }
    }

    /** The chunks' ids as one batch [k, 77] int64 in {@code manager}; fails on a chunk of another length. */
    static NDArray inputIds(List<PromptChunk> chunks, NDManager manager) {
        if (chunks.isEmpty()) {
            throw new IllegalArgumentException("no chunks to encode");
        }
        int positions = CHUNK_LENGTH + 2;
        long[] ids = new long[chunks.size() * positions];
        for (int c = 0; c < chunks.size(); c++) {
            int[] chunkIds = chunks.get(c).ids();
            if (chunkIds.length != positions) {
                throw new IllegalArgumentException("chunk " + c + " has " + chunkIds.length + " positions, expected " + positions);
            }
            for (int i = 0; i < positions; i++) {
                ids[c * positions + i] = chunkIds[i];
            }
        }
        return manager.create(ids, new Shape(chunks.size(), positions));
    }

    /** The chunks' emphasis weights [k, 77, 1] float32 in {@code manager}. */
    static NDArray multipliers(List<PromptChunk> chunks, NDManager manager) {
        int positions = CHUNK_LENGTH + 2;
        float[] weights = new float[chunks.size() * positions];
        for (int c = 0; c < chunks.size(); c++) {
            System.arraycopy(chunks.get(c).multipliers(), 0, weights, c * positions, positions);
        }
        return manager.create(weights, new Shape(chunks.size(), positions, 1));
    }

    /**
     * Applies the emphasis weights to the encoded chunks and joins them: z [k, 77, D], multipliers
     * [k, 77, 1] -> [1, 77k, D]. {@link Emphasis#ORIGINAL}: z * w, then z * (mean(z) / mean(z * w)) per
     * chunk; {@link Emphasis#NO_NORM}: z * w; otherwise z unchanged.
     */
    static NDArray emphasize(NDArray z, NDArray multipliers, Emphasis emphasis) {
        Shape shape = z.getShape();
        NDArray out = z;
        if (emphasis == Emphasis.ORIGINAL || emphasis == Emphasis.NO_NORM) {
            NDArray w = multipliers.toType(z.getDataType(), false);
            NDArray weighted = z.mul(w);  // [k, 77, D] * [k, 77, 1]
            if (emphasis == Emphasis.ORIGINAL) {
                Shape perChunk = new Shape(shape.get(0), shape.get(1) * shape.get(2));
                NDArray originalMean = z.reshape(perChunk).mean(new int[] {1}, true);         // [k, 1]
                NDArray newMean = weighted.reshape(perChunk).mean(new int[] {1}, true);       // [k, 1]
                weighted = weighted.mul(originalMean.div(newMean).reshape(shape.get(0), 1, 1));  // [k, 77, D] * [k, 1, 1]
            }
            out = weighted;
        }
        return out.reshape(1, shape.get(0) * shape.get(1), shape.get(2));  // [k, 77, D] -> [1, 77k, D]
    }

    /** A1111's chunk filling: 75 tokens a chunk, comma backtracking, BREAK, EOS padding. */
    private static final class Chunker {
        final ClipTokenizer tokenizer;
        final Options options;
        final int commaId;
        final List<PromptChunk> chunks = new ArrayList<>();
        int tokenCount;
        private List<Integer> tokens = new ArrayList<>();
        private List<Float> weights = new ArrayList<>();
        private int lastComma = -1;

        Chunker(ClipTokenizer tokenizer, Options options) {
            this.tokenizer = tokenizer;
            this.options = options;
            this.commaId = tokenizer.idOfToken(",</w>").orElse(-1);
        }

        void add(int token, float weight) {
            if (token == commaId) {
                lastComma = tokens.size();
            } else if (options.commaPaddingBacktrack() != 0 && tokens.size() == CHUNK_LENGTH && lastComma != -1
                    && tokens.size() - lastComma <= options.commaPaddingBacktrack()) {
                // the chunk is full: move what follows the last comma into the next chunk
                int breakAt = lastComma + 1;
                List<Integer> movedTokens = new ArrayList<>(tokens.subList(breakAt, tokens.size()));
                List<Float> movedWeights = new ArrayList<>(weights.subList(breakAt, weights.size()));
                tokens = new ArrayList<>(tokens.subList(0, breakAt));
                weights = new ArrayList<>(weights.subList(0, breakAt));
                closeChunk(false);
                tokens = movedTokens;
                weights = movedWeights;
            }
            if (tokens.size() == CHUNK_LENGTH) {
                closeChunk(false);
            }
            tokens.add(token);
            weights.add(weight);
        }

        /** {@code count} consecutive ids from {@code firstId} in one chunk: a new one if they do not fit in this. */
        void addWhole(int firstId, int count, float weight) {
            if (tokens.size() + count > CHUNK_LENGTH) {
                closeChunk(false);
            }
            for (int k = 0; k < count; k++) {
                tokens.add(firstId + k);
                weights.add(weight);
            }
        }

        void finish() {
            if (!tokens.isEmpty() || chunks.isEmpty()) {
                closeChunk(true);
            }
        }

        /** Pads the current chunk, wraps it in BOS/EOS and starts an empty one. */
        void closeChunk(boolean last) {
            tokenCount += last ? tokens.size() : CHUNK_LENGTH;
            int positions = CHUNK_LENGTH + 2;
            int[] ids = new int[positions];
            float[] multipliers = new float[positions];
            Arrays.fill(ids, tokenizer.eosId());
            Arrays.fill(multipliers, 1f);
            ids[0] = tokenizer.bosId();
            for (int i = 0; i < tokens.size(); i++) {
                ids[i + 1] = tokens.get(i);
                multipliers[i + 1] = weights.get(i);
            }
            if (tokenizer.padId() != tokenizer.eosId()) {
                // SD 2.x: everything after the first end-of-text is the pad token
                int firstEos = 0;
                while (ids[firstEos] != tokenizer.eosId()) {
                    firstEos++;
                }
                Arrays.fill(ids, firstEos + 1, positions, tokenizer.padId());
            }
            chunks.add(new PromptChunk(ids, multipliers));
            tokens = new ArrayList<>();
            weights = new ArrayList<>();
            lastComma = -1;
        }
    }
}
