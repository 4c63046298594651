package daguerre.diffusion.text;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CLIP's byte-level BPE tokenizer, as transformers' slow {@code CLIPTokenizer} behaves without
 * {@code ftfy} (the path Stable Diffusion pipelines take in the reference environment).
 *
 * <p>Steps, in order:
 * <ol>
 *   <li>special-token literals (bos, eos, unk, pad) in the text are split out as those tokens;
 *       for SD 2.x folders the pad token is {@code !}, so every literal {@code !} becomes it;</li>
 *   <li>each remaining piece is cleaned as BERT's BasicTokenizer does with lower-casing on, accents
 *       kept and no punctuation split: NUL, U+FFFD and control characters dropped, whitespace to
 *       spaces, spaces around CJK ideographs, NFC, Python-style lower-casing per word;</li>
 *   <li>CLIP's regex cuts it into words, numbers (one digit each) and runs of other symbols;</li>
 *   <li>each word's UTF-8 bytes are mapped to printable characters, {@code </w>} marks its end,
 *       and BPE merges are applied lowest rank first.</li>
 * </ol>
 * Instances are immutable apart from a bounded per-word cache and are safe to share between threads.
 *
 * <p>Character properties come from the running JDK: Unicode 13 on Java 17, as in Python 3.10 (the
 * version A1111 recommends). Characters assigned later (e.g. emoji new in Unicode 14) count as unassigned
 * and are dropped, as Python 3.10 drops them; Python 3.11+ would keep them, so such prompts may differ.
 */
public final class ClipTokenizer {

    /**
     * CLIP's pre-tokenisation pattern; digits are single tokens. U+0345 (combining ypogegrammeni) is
     * excluded from the symbol runs: Python's case-insensitive {@code regex} treats it as a letter in the
     * negated class (its case fold is iota) but not in the letter class, so it is never matched there.
     */
    private static final Pattern WORD_PATTERN = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}\\x{0345}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.UNICODE_CHARACTER_CLASS);

    private static final String END_OF_WORD = "</w>";
    private static final int CACHE_LIMIT = 50_000;
    /** CLIPTokenizer reads no more merges than fit its 49,152-entry table: 49152 - 256 - 2. */
    private static final int MAX_MERGES = 49152 - 256 - 2;
    /** Streaming JSON only: no data-binding, so that loading stays fast in a cold JVM. */
    private static final JsonFactory JSON = new JsonFactory();
    /** The byte-to-character table of GPT-2/CLIP: printable bytes map to themselves, the rest to 256+n. */
    private static final char[] BYTE_TO_CHAR = byteToChar();

    private final Map<String, Integer> vocab;
    private final Map<String, Integer> mergeRanks;
    private final String padToken;
    private final int bosId;
    private final int eosId;
    private final int unkId;
    private final int padId;
    private final int maxLength;
    /** Special-token literals split out before cleaning, longest first. */
    private final List<String> specialTokens;
    private final Map<String, String[]> bpeCache = new ConcurrentHashMap<>();

    private ClipTokenizer(Map<String, Integer> vocab, Map<String, Integer> mergeRanks, String bosToken, String eosToken,
                          String unkToken, String padToken, int maxLength) {
        this.vocab = vocab;
        this.mergeRanks = mergeRanks;
        this.padToken = padToken;
        this.bosId = requireId(bosToken, "bos_token");
        this.eosId = requireId(eosToken, "eos_token");
        this.unkId = requireId(unkToken, "unk_token");
        this.padId = requireId(padToken, "pad_token");
        this.maxLength = maxLength;
        Set<String> specials = new LinkedHashSet<>(List.of(bosToken, eosToken, unkToken, padToken));
        List<String> sorted = new ArrayList<>(specials);
        sorted.sort((a, b) -> Integer.compare(b.length(), a.length()));
        this.specialTokens = List.copyOf(sorted);
    }

    /**
     * Loads a tokenizer folder: {@code vocab.json} and {@code merges.txt} are required;
     * {@code tokenizer_config.json} and {@code special_tokens_map.json} are optional and give the
     * special tokens and {@code model_max_length} (the map wins over the config, as in transformers).
     * Defaults: bos {@code <|startoftext|>}, eos/unk/pad {@code <|endoftext|>}, max length 77.
     */
    public static ClipTokenizer load(Path folder) throws IOException {
        Path vocabFile = folder.resolve("vocab.json");
        Path mergesFile = folder.resolve("merges.txt");
        if (!Files.isRegularFile(vocabFile) || !Files.isRegularFile(mergesFile)) {
            throw new IOException("tokenizer folder " + folder + " must contain vocab.json and merges.txt");
        }
        Map<String, Integer> vocab = readVocab(vocabFile);
        Map<String, Integer> ranks = readMerges(mergesFile);

        Map<String, String> specials = new HashMap<>(Map.of(
                "bos_token", "<|startoftext|>",
                "eos_token", "<|endoftext|>",
                "unk_token", "<|endoftext|>",
                "pad_token", "<|endoftext|>"));
        int maxLength = 77;
        Path configFile = folder.resolve("tokenizer_config.json");
        if (Files.isRegularFile(configFile)) {
            Map<String, String> config = readTopLevelFields(configFile);
            readSpecials(config, specials);
            String max = config.get("model_max_length");
            // transformers writes a huge sentinel (1e30) when no length is known: keep the default then
            if (max != null) {
                double value = parseNumber(max, "model_max_length", configFile);
                if (value >= 1 && value <= 1_000_000) {
                    maxLength = (int) value;
                }
            }
        }
        Path mapFile = folder.resolve("special_tokens_map.json");
        if (Files.isRegularFile(mapFile)) {
            readSpecials(readTopLevelFields(mapFile), specials);
        }
        if (maxLength < 2) {
            throw new IOException(configFile + ": model_max_length " + maxLength + " leaves no room for bos and eos");
        }
        try {
            return new ClipTokenizer(vocab, ranks, specials.get("bos_token"), specials.get("eos_token"),
                    specials.get("unk_token"), specials.get("pad_token"), maxLength);
        } catch (IllegalArgumentException e) {
            throw new IOException(folder + ": " + e.getMessage(), e);
        }
    }

    /**
     * The same vocabulary with another pad token, e.g. {@code "!"} for SD 2.x models loaded from a single
     * checkpoint file with an SD 1.x tokenizer folder (what SD 2.x's own special_tokens_map.json sets).
     *
     * @throws IllegalArgumentException if {@code token} is not in the vocabulary
     */
    public ClipTokenizer withPadToken(String token) {
        return new ClipTokenizer(vocab, mergeRanks, idToToken(bosId), idToToken(eosId), idToToken(unkId), token, maxLength);
    }

    /** Token ids of {@code text} between BOS and EOS, untruncated (transformers' {@code tokenizer(text).input_ids}). */
    public int[] tokenize(String text) {
        int[] body = tokenIds(text);
        int[] ids = new int[body.length + 2];
        ids[0] = bosId;
        System.arraycopy(body, 0, ids, 1, body.length);
        ids[ids.length - 1] = eosId;
        return ids;
    }

    /**
     * Token ids of {@code text} without BOS/EOS and without truncation
     * ({@code add_special_tokens=False}), for prompt chunking.
     */
    public int[] tokenIds(String text) {
        List<String> tokens = tokens(text);
        int[] ids = new int[tokens.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = idOf(tokens.get(i));
        }
        return ids;
    }

    /**
     * BOS + the first {@code maxLength - 2} ids + EOS, then pad ids up to {@code maxLength}
     * (transformers' {@code padding='max_length', truncation=True}, what SD pipelines feed the text model).
     */
    public int[] encode(String text, int maxLength) {
        if (maxLength < 2) {
            throw new IllegalArgumentException("maxLength must be at least 2 (bos and eos), got " + maxLength);
        }
        int[] body = tokenIds(text);
        int kept = Math.min(body.length, maxLength - 2);
        int[] ids = new int[maxLength];
        Arrays.fill(ids, padId);
        ids[0] = bosId;
        System.arraycopy(body, 0, ids, 1, kept);
        ids[kept + 1] = eosId;
        return ids;
    }

    /** {@link #encode(String, int)} with the folder's {@code model_max_length} (77 for SD). */
    public int[] encode(String text) {
        return encode(text, maxLength);
    }

    /** 1 for BOS..EOS and 0 for padding of {@link #encode(String, int)}'s result. */
    public int[] attentionMask(String text, int maxLength) {
        int used = Math.min(tokenIds(text).length, maxLength - 2) + 2;
        int[] mask = new int[maxLength];
        Arrays.fill(mask, 0, Math.min(used, maxLength), 1);
        return mask;
    }

    /** The token strings (byte-level characters, {@code </w>} marking word ends), without BOS/EOS. */
    public List<String> tokens(String text) {
        List<String> out = new ArrayList<>();
        for (String piece : splitOnSpecialTokens(text)) {
            if (specialTokens.contains(piece)) {
                out.add(piece);
            } else {
                for (String word : preTokenize(clean(piece))) {
                    Collections.addAll(out, bpe(word));
                }
            }
        }
        return out;
    }

    /**
     * The cleaning step alone (BasicTokenizer without ftfy): control characters dropped,
     * whitespace normalised, CJK ideographs spaced, NFC, lower-cased, words joined by one space.
     */
    public static String clean(String text) {
        StringBuilder cleaned = new StringBuilder(text.length() + 8);
        text.codePoints().forEach(cp -> {
            if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
                return;
            }
            if (isBertWhitespace(cp)) {
                cleaned.append(' ');
            } else if (isCjkIdeograph(cp)) {
                cleaned.append(' ').appendCodePoint(cp).append(' ');
            } else {
                cleaned.appendCodePoint(cp);
            }
        });
        String normalized = Normalizer.normalize(cleaned, Normalizer.Form.NFC);
        StringBuilder out = new StringBuilder(normalized.length());
        for (String word : splitOnPythonWhitespace(normalized)) {
            if (out.length() > 0) {
                out.append(' ');
            }
            out.append(pythonLower(word));
        }
        return out.toString();
    }

    /**
     * Python's {@code str.lower()}: the JDK's full lower-case mapping per code point (so {@code İ} becomes
     * {@code i̇}), and capital sigma by Python's Final_Sigma test: {@code ς} when a cased letter precedes it
     * and none follows it (case-ignorable characters skipped both ways), else {@code σ}.
     */
    static String pythonLower(String word) {
        StringBuilder out = new StringBuilder(word.length());
        int i = 0;
        while (i < word.length()) {
            int cp = word.codePointAt(i);
            if (cp == CAPITAL_SIGMA) {
                out.append(isFinalSigma(word, i) ? 'ς' : 'σ');
            } else {
                out.append(new String(Character.toChars(cp)).toLowerCase(Locale.ROOT));
            }
            i += Character.charCount(cp);
        }
        return out.toString();
    }

    private static final int CAPITAL_SIGMA = 0x03A3;

    private static boolean isFinalSigma(String word, int index) {
        int before = index;
        int previous = -1;
        while (before > 0) {
            previous = word.codePointBefore(before);
            before -= Character.charCount(previous);
            if (!isCaseIgnorable(previous)) {
                break;
            }
            previous = -1;
        }
        if (previous < 0 || !isCased(previous)) {
            return false;
        }
        int after = index + 1;
        while (after < word.length()) {
            int next = word.codePointAt(after);
            if (!isCaseIgnorable(next)) {
                return !isCased(next);
            }
            after += Character.charCount(next);
        }
        return true;
    }

    private static boolean isCased(int cp) {
        return Character.isLowerCase(cp) || Character.isUpperCase(cp) || Character.isTitleCase(cp);
    }

    /** Unicode Case_Ignorable: Mn, Me, Cf, Lm, Sk, or word-break MidLetter / MidNumLet / Single_Quote. */
    private static boolean isCaseIgnorable(int cp) {
        switch (Character.getType(cp)) {
            case Character.NON_SPACING_MARK:
            case Character.ENCLOSING_MARK:
            case Character.FORMAT:
            case Character.MODIFIER_LETTER:
            case Character.MODIFIER_SYMBOL:
                return true;
            default:
                return cp == '\'' || cp == '.' || cp == ':' || cp == 0x00B7 || cp == 0x0387 || cp == 0x05F4 || cp == 0x2018
                        || cp == 0x2019 || cp == 0x2024 || cp == 0x2027 || cp == 0xFE13 || cp == 0xFE52 || cp == 0xFE55
                        || cp == 0xFF07 || cp == 0xFF0E || cp == 0xFF1A;
        }
    }

    /** CLIP's regex pieces of already cleaned text. */
    public static List<String> preTokenize(String cleaned) {
        List<String> words = new ArrayList<>();
        Matcher m = WORD_PATTERN.matcher(cleaned);
        while (m.find()) {
            words.add(m.group());
        }
        return words;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    /** The padding id: the eos id for SD 1.x folders, the id of {@code !} (0) for SD 2.x ones. */
    public int padId() {
        return padId;
    }

    public int unkId() {
        return unkId;
    }

    /** {@code model_max_length} of the folder (77 for Stable Diffusion). */
    public int maxLength() {
        return maxLength;
    }

    public int vocabSize() {
        return vocab.size();
    }

    /** The id of a token string ({@code "a</w>"}, {@code ",</w>"}), or empty if not in the vocabulary. */
    public OptionalInt idOfToken(String token) {
        Integer id = vocab.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    public String padToken() {
        return padToken;
    }

    // ---- internals --------------------------------------------------------------------------

    private String idToToken(int id) {
        for (String special : specialTokens) {
            if (vocab.get(special) == id) {
                return special;
            }
        }
        throw new IllegalStateException("no special token has id " + id);
    }

    private int idOf(String token) {
        Integer id = vocab.get(token);
        return id != null ? id : unkId;
    }

    private int requireId(String token, String role) {
        Integer id = vocab.get(token);
        if (id == null) {
            throw new IllegalArgumentException(role + " '" + token + "' is not in vocab.json");
        }
        return id;
    }

    /** Splits out special-token literals (exact, case-sensitive), leftmost and then longest match first. */
    private List<String> splitOnSpecialTokens(String text) {
        List<String> pieces = new ArrayList<>();
        int start = 0;
        int i = 0;
        while (i < text.length()) {
            String match = null;
            for (String special : specialTokens) {
                if (text.startsWith(special, i)) {
                    match = special;
                    break;
                }
            }
            if (match == null) {
                i++;
                continue;
            }
            if (i > start) {
                pieces.add(text.substring(start, i));
            }
            pieces.add(match);
            i += match.length();
            start = i;
        }
        if (start < text.length()) {
            pieces.add(text.substring(start));
        }
        return pieces;
    }

    /** BPE of one pre-token: its bytes as characters, {@code </w>} on the last, merges by rank. */
    private String[] bpe(String word) {
        String[] cached = bpeCache.get(word);
        if (cached != null) {
            return cached;
        }
        String[] result;
        if (word.equals("<|startoftext|>") || word.equals("<|endoftext|>")) {
            result = new String[] {word};  // CLIP keeps these literals whole, without </w>
        } else {
            result = merge(toByteChars(word));
        }
        if (bpeCache.size() >= CACHE_LIMIT) {
            bpeCache.clear();
        }
        bpeCache.put(word, result);
        return result;
    }

    private String[] merge(String chars) {
        List<String> parts = new ArrayList<>(chars.length());
        for (int i = 0; i < chars.length() - 1; i++) {
            parts.add(String.valueOf(chars.charAt(i)));
        }
        parts.add(chars.charAt(chars.length() - 1) + END_OF_WORD);
        while (parts.size() > 1) {
            // the adjacent pair with the lowest merge rank
            int bestRank = Integer.MAX_VALUE;
            String first = null;
            String second = null;
            for (int i = 0; i < parts.size() - 1; i++) {
                Integer rank = mergeRanks.get(parts.get(i) + ' ' + parts.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    first = parts.get(i);
                    second = parts.get(i + 1);
                }
            }
            if (first == null) {
                break;
            }
            // merge every non-overlapping occurrence, left to right
            List<String> merged = new ArrayList<>(parts.size());
            int i = 0;
            while (i < parts.size()) {
                if (i < parts.size() - 1 && parts.get(i).equals(first) && parts.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i += 2;
                } else {
                    merged.add(parts.get(i));
                    i++;
                }
            }
            parts = merged;
        }
        return parts.toArray(new String[0]);
    }

    private static String toByteChars(String word) {
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        char[] chars = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            chars[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        }
        return new String(chars);
    }

    private static char[] byteToChar() {
        char[] table = new char[256];
        boolean[] printable = new boolean[256];
        for (int b = '!'; b <= '~'; b++) {
            printable[b] = true;
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            printable[b] = true;
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            printable[b] = true;
        }
        int next = 0;
        for (int b = 0; b < 256; b++) {
            table[b] = printable[b] ? (char) b : (char) (256 + next++);
        }
        return table;
    }

    /** BasicTokenizer's control test: Unicode category C*, except tab, newline and carriage return. */
    private static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        int type = Character.getType(cp);
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.UNASSIGNED
                || type == Character.PRIVATE_USE || type == Character.SURROGATE;
    }

    /** BasicTokenizer's whitespace test: space, tab, newline, carriage return, or category Zs. */
    private static boolean isBertWhitespace(int cp) {
        return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || Character.getType(cp) == Character.SPACE_SEPARATOR;
    }

    /** The CJK Unified Ideograph blocks BERT spaces out (not Hangul, Hiragana or Katakana). */
    private static boolean isCjkIdeograph(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    /** Python's {@code str.split()} with no argument: runs of {@code str.isspace()} characters separate words. */
    private static List<String> splitOnPythonWhitespace(String text) {
        List<String> words = new ArrayList<>();
        int start = -1;
        int i = 0;
        while (i < text.length()) {
            int cp = text.codePointAt(i);
            if (isPythonSpace(cp)) {
                if (start >= 0) {
                    words.add(text.substring(start, i));
                    start = -1;
                }
            } else if (start < 0) {
                start = i;
            }
            i += Character.charCount(cp);
        }
        if (start >= 0) {
            words.add(text.substring(start));
        }
        return words;
    }

    /** Python's {@code str.isspace()}: bidirectional class WS, B or S, or category Zs. */
    private static boolean isPythonSpace(int cp) {
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F) || cp == 0x85) {
            return true;
        }
        if (Character.getType(cp) == Character.SPACE_SEPARATOR) {
            return true;
        }
        byte bidi = Character.getDirectionality(cp);
        return bidi == Character.DIRECTIONALITY_WHITESPACE || bidi == Character.DIRECTIONALITY_PARAGRAPH_SEPARATOR
                || bidi == Character.DIRECTIONALITY_SEGMENT_SEPARATOR;
    }

    /** Streams vocab.json (token -> id) without building a JSON tree: ~50k entries in well under a second. */
    private static Map<String, Integer> readVocab(Path file) throws IOException {
        Map<String, Integer> vocab = new HashMap<>(1 << 17);
        try (JsonParser parser = JSON.createParser(Files.readAllBytes(file))) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException(file + ": expected a JSON object of token -> id");
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String token = parser.currentName();
                if (parser.nextToken() != JsonToken.VALUE_NUMBER_INT) {
                    throw new IOException(file + ": id of token '" + token + "' is not an integer");
                }
                vocab.put(token, parser.getIntValue());
            }
        }
        if (vocab.isEmpty()) {
            throw new IOException(file + ": empty vocabulary");
        }
        return vocab;
    }

    /**
     * merges.txt as CLIPTokenizer reads it: the first line (the "#version" header) is skipped, then
     * at most {@link #MAX_MERGES} "left right" pairs, rank = order (a repeated pair keeps its later rank).
     */
    private static Map<String, Integer> readMerges(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        int end = lines.size();
        while (end > 0 && lines.get(end - 1).isBlank()) {
            end--;
        }
        Map<String, Integer> ranks = new HashMap<>(1 << 17);
        int count = Math.min(end - 1, MAX_MERGES);
        for (int rank = 0; rank < count; rank++) {
            String line = lines.get(rank + 1).strip();
            int space = line.indexOf(' ');
            if (space <= 0 || space == line.length() - 1 || line.indexOf(' ', space + 1) >= 0) {
                throw new IOException(file + ": line " + (rank + 2) + " is not a 'left right' merge: '" + line + "'");
            }
            ranks.put(line, rank);
        }
        return ranks;
    }

    /**
     * The top-level fields of a small JSON object: strings and numbers as text, an object as its
     * {@code "content"} string (transformers' AddedToken form) when it has one; other values are skipped.
     */
    private static Map<String, String> readTopLevelFields(Path file) throws IOException {
        Map<String, String> fields = new HashMap<>();
        try (JsonParser parser = JSON.createParser(Files.readAllBytes(file))) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException(file + ": expected a JSON object");
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                JsonToken value = parser.nextToken();
                if (value == JsonToken.VALUE_STRING || value.isNumeric()) {
                    fields.put(name, parser.getText());
                } else if (value == JsonToken.START_OBJECT) {
                    while (parser.nextToken() == JsonToken.FIELD_NAME) {
                        String inner = parser.currentName();
                        if (parser.nextToken() == JsonToken.VALUE_STRING && inner.equals("content")) {
                            fields.put(name, parser.getText());
                        } else {
                            parser.skipChildren();
                        }
                    }
                } else {
                    parser.skipChildren();
                }
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        return fields;
    }

    private static double parseNumber(String text, String field, Path file) throws IOException {
        try {
            return Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw new IOException(file + ": " + field + " is not a number: '" + text + "'", e);
        }
    }

    /** bos/eos/unk/pad tokens, given as strings or as AddedToken objects. */
    private static void readSpecials(Map<String, String> fields, Map<String, String> specials) {
        for (String key : List.of("bos_token", "eos_token", "unk_token", "pad_token")) {
            String value = fields.get(key);
            if (value != null) {
                specials.put(key, value);
            }
        }
    }
}
