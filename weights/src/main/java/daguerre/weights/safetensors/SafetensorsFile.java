package daguerre.weights.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import daguerre.weights.TensorSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A safetensors file opened for lazy, memory-mapped reading.
 *
 * <p>Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON header, then the data
 * area. Every header entry is validated before any tensor is read: known dtype, non-negative shape,
 * shape × dtype size equal to the byte range, ranges inside the data area and not overlapping.
 * Offsets are {@code long}, so files over 2 GiB work; each tensor is mapped on demand.
 */
public final class SafetensorsFile implements AutoCloseable, TensorSource {

    /** Largest header accepted (the reference implementation uses the same 100 MB cap). */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart,
                            Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /**
     * Opens and validates {@code path}; throws {@link InvalidTensorFileException} naming the problem.
     * Pickle-based checkpoints (by extension, or by their zip/pickle bytes under any name) are refused
     * with an {@link UnsafeCheckpointException} before anything else is read.
     */
    public static SafetensorsFile open(Path path) throws IOException {
        if (UnsafeCheckpointException.hasPickleExtension(path)) {
            throw UnsafeCheckpointException.byExtension(path);
        }
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long fileSize = channel.size();
            ByteBuffer start = ByteBuffer.allocate((int) Math.min(fileSize, 9)).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, start, 0);
            start.flip();
            long headerLength = fileSize >= 8 ? start.getLong(0) : -1;
            boolean plausible = headerLength > 0 && headerLength <= fileSize - 8 && start.get(8) == '{';
            if (!plausible) {
                refuseForeignPayload(path, start);
            }
            if (fileSize < 8) {
                throw new InvalidTensorFileException(path, "file is " + fileSize + " bytes, shorter than the 8-byte header length");
            }
            if (headerLength <= 0 || headerLength > MAX_HEADER_BYTES) {
                throw new InvalidTensorFileException(path, "header length " + Long.toUnsignedString(headerLength)
                        + " is outside 1.." + MAX_HEADER_BYTES + " bytes");
            }
            if (headerLength > fileSize - 8) {
                throw new InvalidTensorFileException(path, "header length " + headerLength
                        + " runs past the end of the file (" + fileSize + " bytes)");
            }
            ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
            readFully(channel, headerBytes, 8);
            String header = decodeUtf8(path, headerBytes.flip());
            long dataStart = 8 + headerLength;
            Header parsed = parseHeader(path, header, fileSize - dataStart);
            return new SafetensorsFile(path, channel, dataStart, parsed.tensors, parsed.metadata);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** Rejects a zip archive (PyTorch {@code torch.save}) or a raw pickle stream, whatever the file's name. */
    private static void refuseForeignPayload(Path path, ByteBuffer start) throws UnsafeCheckpointException {
        int n = start.limit();
        if (n >= 4 && start.get(0) == 'P' && start.get(1) == 'K' && start.get(2) == 3 && start.get(3) == 4) {
            throw UnsafeCheckpointException.zipPayload(path);
        }
        // pickle protocol 2..5 streams open with PROTO (0x80), the protocol number and an opcode (never 0)
        if (n >= 3 && (start.get(0) & 0xff) == 0x80 && start.get(1) >= 2 && start.get(1) <= 5 && start.get(2) != 0) {
            throw UnsafeCheckpointException.picklePayload(path);
        }
    }

    private static String decodeUtf8(Path path, ByteBuffer bytes) throws InvalidTensorFileException {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new InvalidTensorFileException(path, "header is not valid UTF-8");
        }
    }

    private record Header(Map<String, TensorInfo> tensors, Map<String, String> metadata) {}

    private static Header parseHeader(Path path, String header, long dataLength) throws InvalidTensorFileException {
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException e) {
            String problem = e.getOriginalMessage();
            if (problem != null && problem.startsWith("Duplicate")) {
                throw new InvalidTensorFileException(path, "header has a duplicate key: " + problem);
            }
            throw new InvalidTensorFileException(path, "header is not well-formed JSON: " + problem);
        }
        if (root == null || !root.isObject()) {
            throw new InvalidTensorFileException(path, "header is not a JSON object");
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String name = field.getKey();
            JsonNode entry = field.getValue();
            if (name.equals("__metadata__")) {
                parseMetadata(path, entry, metadata);
            } else {
                tensors.put(name, parseEntry(path, name, entry, dataLength));
            }
        }
        checkNoOverlap(path, tensors.values());
        return new Header(Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static void parseMetadata(Path path, JsonNode entry, Map<String, String> metadata)
            throws InvalidTensorFileException {
        if (!entry.isObject()) {
            throw new InvalidTensorFileException(path, "__metadata__ is not a JSON object");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = entry.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> m = it.next();
            if (!m.getValue().isTextual()) {
                throw new InvalidTensorFileException(path, "__metadata__ value '" + m.getKey() + "' is not a string");
            }
            metadata.put(m.getKey(), m.getValue().textValue());
        }
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode entry, long dataLength)
            throws InvalidTensorFileException {
        if (!entry.isObject()) {
            throw new InvalidTensorFileException(path, name, "header entry is not a JSON object");
        }
        JsonNode dtypeNode = entry.get("dtype");
        JsonNode shapeNode = entry.get("shape");
        JsonNode offsetsNode = entry.get("data_offsets");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new InvalidTensorFileException(path, name, "missing or non-string 'dtype'");
        }
        DType dtype;
        try {
            dtype = DType.valueOf(dtypeNode.textValue());
        } catch (IllegalArgumentException e) {
            throw new InvalidTensorFileException(path, name, "unsupported dtype '" + dtypeNode.textValue()
                    + "' (supported: F32, F64, F16, BF16, I64, U8)");
        }
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new InvalidTensorFileException(path, name, "missing or non-array 'shape'");
        }
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw new InvalidTensorFileException(path, name, "shape dimension " + i + " is not a non-negative integer: " + d);
            }
            shape[i] = d.longValue();
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException e) {
                throw new InvalidTensorFileException(path, name, "absurd shape " + shapeNode + ": element count overflows");
            }
        }
        if (offsetsNode == null || !offsetsNode.isArray() || offsetsNode.size() != 2
                || !offsetsNode.get(0).canConvertToLong() || !offsetsNode.get(1).canConvertToLong()
                || !offsetsNode.get(0).isIntegralNumber() || !offsetsNode.get(1).isIntegralNumber()) {
            throw new InvalidTensorFileException(path, name, "'data_offsets' must be two integers");
        }
        long begin = offsetsNode.get(0).longValue();
        long end = offsetsNode.get(1).longValue();
        if (begin < 0 || end < begin || end > dataLength) {
            throw new InvalidTensorFileException(path, name, "data_offsets [" + begin + ", " + end
                    + "] lie outside the data area of " + dataLength + " bytes");
        }
        long expected;
        try {
            expected = Math.multiplyExact(elements, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new InvalidTensorFileException(path, name, "absurd shape " + shapeNode + ": byte size overflows");
        }
        if (end - begin != expected) {
            throw new InvalidTensorFileException(path, name, "byte range holds " + (end - begin) + " bytes but shape "
                    + shapeNode + " of " + dtype + " needs " + expected);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static void checkNoOverlap(Path path, Iterable<TensorInfo> infos) throws InvalidTensorFileException {
        List<TensorInfo> sorted = new ArrayList<>();
        infos.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        TensorInfo previous = null;
        for (TensorInfo t : sorted) {
            if (previous != null && t.begin() < previous.end() && t.byteLength() > 0) {
                throw new InvalidTensorFileException(path, t.name(), "byte range [" + t.begin() + ", " + t.end()
                        + "] overlaps tensor '" + previous.name() + "' [" + previous.begin() + ", " + previous.end() + "]");
            }
            if (t.byteLength() > 0) {
                previous = t;
            }
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long pos = position;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
            pos += n;
        }
    }

    public Path path() {
        return path;
    }

    /** Tensor names in header order. */
    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** Header entries by name, in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The header entry of {@code name}; fails naming the file and tensor if absent. */
    public TensorInfo info(String name) throws InvalidTensorFileException {
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw new InvalidTensorFileException(path, name, "no such tensor");
        }
        return info;
    }

    /** The {@code __metadata__} string map (empty if absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** A read-only little-endian view of the tensor's bytes, memory-mapped on demand. */
    public ByteBuffer bytes(String name) throws IOException {
        TensorInfo info = info(name);
        if (info.byteLength() > Integer.MAX_VALUE) {
            throw new InvalidTensorFileException(path, name, "a single tensor over 2 GiB is not supported");
        }
        if (info.byteLength() == 0) {
            return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
        }
        return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + info.begin(), info.byteLength())
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public long[] shape(String name) throws IOException {
        return info(name).shape().clone();
    }

    @Override
    public DType dtype(String name) throws IOException {
        return info(name).dtype();
    }

    @Override
    public String description() {
        return path.toString();
    }

    /** The tensor's values as float32 (F32 as is; F16 and BF16 widened; F64 rounded to nearest). */
    @Override
    public float[] floats(String name) throws IOException {
        TensorInfo info = info(name);
        if (!info.dtype().isFloating()) {
            throw new InvalidTensorFileException(path, name, "is " + info.dtype() + ", not a floating-point tensor");
        }
        ByteBuffer buffer = bytes(name);
        float[] out = new float[Math.toIntExact(info.elementCount())];
        switch (info.dtype()) {
            case F32 -> buffer.asFloatBuffer().get(out);
            case F64 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = (float) buffer.getDouble(8 * i);
                }
            }
            case F16 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = HalfFloats.f16ToFloat(buffer.getShort(2 * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = HalfFloats.bf16ToFloat(buffer.getShort(2 * i));
                }
            }
            default -> throw new IllegalStateException(info.dtype().toString());
        }
        return out;
    }

    /** The values of an I64 tensor. */
    public long[] longs(String name) throws IOException {
        TensorInfo info = info(name);
        if (info.dtype() != DType.I64) {
            throw new InvalidTensorFileException(path, name, "is " + info.dtype() + ", not I64");
        }
        long[] out = new long[Math.toIntExact(info.elementCount())];
        bytes(name).asLongBuffer().get(out);
        return out;
    }

    /**
     * The values of a numeric tensor of any stored type as doubles: exact for F64, F32, F16, BF16, U8
     * and for I64 values up to 2^53 (timesteps, for example, are stored as I64 or as F32/F64).
     */
    public double[] doubles(String name) throws IOException {
        TensorInfo info = info(name);
        double[] out = new double[Math.toIntExact(info.elementCount())];
        switch (info.dtype()) {
            case I64 -> {
                long[] longs = longs(name);
                for (int i = 0; i < out.length; i++) {
                    out[i] = longs[i];
                }
            }
            case F64 -> bytes(name).asDoubleBuffer().get(out);
            case U8 -> {
                ByteBuffer bytes = bytes(name);
                for (int i = 0; i < out.length; i++) {
                    out[i] = Byte.toUnsignedInt(bytes.get(i));
                }
            }
            default -> {
                float[] floats = floats(name);
                for (int i = 0; i < out.length; i++) {
                    out[i] = floats[i];
                }
            }
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
