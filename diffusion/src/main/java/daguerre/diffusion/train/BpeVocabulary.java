package daguerre.diffusion.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import daguerre.diffusion.text.ClipTokenizer;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A byte-level BPE vocabulary (Sennrich et al. 2016, on bytes as GPT-2 does) learned from captions
 * and written in CLIP's format, so that {@link ClipTokenizer#load} reads it like OpenAI's:
 * <ul>
 *   <li>{@code vocab.json}: the 256 byte characters, the same 256 with {@code </w>} (end of word),
 *       one token per merge in rank order, then {@code <|startoftext|>} and {@code <|endoftext|>};</li>
 *   <li>{@code merges.txt}: a {@code #version: 0.2} line, then one {@code left right} pair per line;</li>
 *   <li>{@code special_tokens_map.json} and {@code tokenizer_config.json} (77 positions, padding
 *       with {@code <|endoftext|>} as SD 1.x).</li>
 * </ul>
 * Words are cut exactly as the tokenizer cuts them ({@link ClipTokenizer#clean},
 * {@link ClipTokenizer#preTokenize}); each merge joins the most frequent adjacent pair, ties going
 * to the lexicographically smallest, so the result is a pure function of the captions.
 */
public final class BpeVocabulary {

    /** Beginning-of-text token. */
    public static final String BOS = "<|startoftext|>";
    /** End-of-text token, also the padding and unknown token. */
    public static final String EOS = "<|endoftext|>";
    /** Token positions of the text encoder. */
    public static final int MAX_LENGTH = 77;
    private static final String END_OF_WORD = "</w>";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final List<String> byteSymbols;
    private final List<String[]> merges;

    private BpeVocabulary(List<String> byteSymbols, List<String[]> merges) {
        this.byteSymbols = byteSymbols;
        this.merges = merges;
    }

    /**
     * Learns up to {@code maxMerges} merges from {@code captions} (each counted once per
     * occurrence), stopping early when no pair occurs twice.
     */
    public static BpeVocabulary learn(List<String> captions, int maxMerges) {
        char[] byteToChar = byteToChar();
        Map<String, Integer> wordCounts = new LinkedHashMap<>();
        for (String caption : captions) {
            for (String word : ClipTokenizer.preTokenize(ClipTokenizer.clean(caption))) {
                wordCounts.merge(word, 1, Integer::sum);
            }
        }
        List<List<String>> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        wordCounts.forEach((word, count) -> {
            byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
            List<String> symbols = new ArrayList<>(bytes.length);
            for (int i = 0; i < bytes.length; i++) {
                String symbol = String.valueOf(byteToChar[bytes[i] & 0xff]);
                symbols.add(i == bytes.length - 1 ? symbol + END_OF_WORD : symbol);
            }
            words.add(symbols);
            counts.add(count);
        });
        List<String[]> merges = new ArrayList<>();
        while (merges.size() < maxMerges) {
            Map<String, Integer> pairCounts = new HashMap<>();
            for (int w = 0; w < words.size(); w++) {
                List<String> symbols = words.get(w);
                for (int i = 0; i + 1 < symbols.size(); i++) {
                    pairCounts.merge(symbols.get(i) + " " + symbols.get(i + 1), counts.get(w), Integer::sum);
                }
            }
            String best = null;
            int bestCount = 1;
            for (Map.Entry<String, Integer> pair : pairCounts.entrySet()) {
                int count = pair.getValue();
                if (count > bestCount || (count == bestCount && best != null && pair.getKey().compareTo(best) < 0)) {
                    best = pair.getKey();
                    bestCount = count;
                }
            }
            if (best == null) {
                break;
            }
            String[] pair = best.split(" ", 2);
            merges.add(pair);
            String joined = pair[0] + pair[1];
            for (List<String> symbols : words) {
                for (int i = 0; i + 1 < symbols.size(); i++) {
                    if (symbols.get(i).equals(pair[0]) && symbols.get(i + 1).equals(pair[1])) {
                        symbols.set(i, joined);
                        symbols.remove(i + 1);
                    }
                }
            }
        }
        List<String> byteSymbols = new ArrayList<>(256);
        for (int b : byteOrder()) {
            byteSymbols.add(String.valueOf(byteToChar[b]));
        }
        return new BpeVocabulary(byteSymbols, merges);
    }

    /** The merges in rank order, each a pair of symbols. */
    public List<String[]> merges() {
        return merges;
    }

    /** Tokens in the vocabulary: 512 byte symbols, one per merge, and the two special tokens. */
    public int size() {
        return 2 * byteSymbols.size() + merges.size() + 2;
    }

    /** Writes the tokenizer files into {@code folder} (created if needed) and returns it. */
    public Path write(Path folder) throws IOException {
        Files.createDirectories(folder);
        ObjectNode vocab = JSON.createObjectNode();
        int id = 0;
        for (String symbol : byteSymbols) {
            vocab.put(symbol, id++);
        }
        for (String symbol : byteSymbols) {
            vocab.put(symbol + END_OF_WORD, id++);
        }
        for (String[] merge : merges) {
            vocab.put(merge[0] + merge[1], id++);
        }
        vocab.put(BOS, id++);
        vocab.put(EOS, id);
        JSON.writeValue(folder.resolve("vocab.json").toFile(), vocab);
        try (Writer out = Files.newBufferedWriter(folder.resolve("merges.txt"), StandardCharsets.UTF_8)) {
            out.write("#version: 0.2\n");
            for (String[] merge : merges) {
                out.write(merge[0] + " " + merge[1] + "\n");
            }
        }
        ObjectNode special = JSON.createObjectNode().put("bos_token", BOS).put("eos_token", EOS)
                .put("unk_token", EOS).put("pad_token", EOS);
        JSON.writerWithDefaultPrettyPrinter().writeValue(folder.resolve("special_tokens_map.json").toFile(), special);
        ObjectNode config = special.deepCopy().put("model_max_length", MAX_LENGTH).put("do_lower_case", true)
                .put("tokenizer_class", "CLIPTokenizer");
        JSON.writerWithDefaultPrettyPrinter().writeValue(folder.resolve("tokenizer_config.json").toFile(), config);
        return folder;
    }

    /**
     * The order of the byte symbols in the vocabulary, as GPT-2's byte encoder lists them: the
     * printable bytes {@code !..~}, {@code ¡..¬}, {@code ®..ÿ}, then every other byte ascending.
     */
    static int[] byteOrder() {
        List<Integer> order = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            if (isPrintable(b)) {
                order.add(b);
            }
        }
        for (int b = 0; b < 256; b++) {
            if (!isPrintable(b)) {
                order.add(b);
            }
        }
        return order.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Byte -> character: printable bytes map to themselves, the others to U+0100 + n in byte order. */
    static char[] byteToChar() {
        char[] table = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++) {
            table[b] = isPrintable(b) ? (char) b : (char) (256 + next++);
        }
        return table;
    }

    private static boolean isPrintable(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    }
}
