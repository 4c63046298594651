package daguerre.weights.lora;

import daguerre.weights.layout.OriginalLayouts;
import daguerre.weights.layout.OriginalNames;
import daguerre.weights.safetensors.InvalidTensorFileException;
import daguerre.weights.safetensors.SafetensorsFile;
import daguerre.weights.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A LoRA file read into canonical form: one {@link LoraModule} per patched weight, named by the
 * model's own parameter keys. Two formats, both safetensors (pickle files are refused as everywhere,
 * {@link daguerre.weights.safetensors.UnsafeCheckpointException}):
 *
 * <ul>
 *   <li>kohya / A1111: {@code lora_unet_<module>}, {@code lora_te_<module>} (SDXL {@code lora_te1_},
 *       {@code lora_te2_}), each with {@code .lora_down.weight}, {@code .lora_up.weight} and an optional
 *       0-d {@code .alpha} (absent: alpha = rank, as kohya's scripts read it). The module path has every
 *       '.' written as '_', which is not reversible ({@code to_out_0}, {@code ff_net_0_proj}); so the name
 *       is matched against the model's real parameter names written the same way: its canonical
 *       diffusers / transformers names, and for the U-Net also its original LDM names
 *       ({@code input_blocks_4_1_...}, which kohya's SDXL files use).</li>
 *   <li>diffusers / PEFT as diffusers saves it: {@code unet.<module>}, {@code text_encoder.<module>},
 *       {@code text_encoder_2.<module>} with {@code .lora.down.weight} / {@code .lora.up.weight},
 *       {@code .lora_linear_layer.down.weight} / {@code .up.weight} or {@code .lora_A.weight} /
 *       {@code .lora_B.weight} (A = down, B = up). No alpha: alpha = rank (an {@code .alpha} key is
 *       read where present).</li>
 * </ul>
 *
 * Unknown keys, a module without both factors, a module the model does not have, factors whose shapes
 * do not fit the target weight, and non-finite values are errors naming the file and the key.
 *
 * @param path the file
 * @param metadata the file's {@code __metadata__} (for display only)
 * @param modules the updates, in the file's key order
 */
public record LoraFile(Path path, Map<String, String> metadata, List<LoraModule> modules) {

    private static final String[][] DIFFUSERS_FACTORS = {
        {".lora.down.weight", ".lora.up.weight"},
        {".lora_linear_layer.down.weight", ".lora_linear_layer.up.weight"},
        {".lora_A.weight", ".lora_B.weight"},
    };
    private static final String KOHYA_DOWN = ".lora_down.weight";
    private static final String KOHYA_UP = ".lora_up.weight";
    private static final String ALPHA = ".alpha";

    public LoraFile {
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        modules = List.copyOf(modules);
    }

    /** The file name without its extension: the name A1111's {@code <lora:name:w>} uses. */
    public String name() {
        String file = path.getFileName().toString();
        int dot = file.lastIndexOf('.');
        return dot > 0 ? file.substring(0, dot) : file;
    }

    /** Bytes the factors take in memory (float32), for a cache bounded by memory. */
    public long byteSize() {
        return modules.stream().mapToLong(m -> 4L * (m.down().length + m.up().length)).sum();
    }

    /** The modules patching {@code network}. */
    public List<LoraModule> modules(LoraNetwork network) {
        return modules.stream().filter(m -> m.network() == network).toList();
    }

    /**
     * Reads {@code file} against a model's parameters.
     *
     * @param parameters per network the model has, every parameter's canonical key and shape
     *     (a model without a second text encoder simply has no {@link LoraNetwork#TEXT_ENCODER_2} entry)
     */
    public static LoraFile read(Path file, Map<LoraNetwork, Map<String, long[]>> parameters) throws IOException {
        try (SafetensorsFile tensors = SafetensorsFile.open(file)) {
            return new Reader(file, tensors, parameters).read();
        }
    }

    /** The module names of one file, grouped, then resolved against the model. */
    private static final class Reader {

        private final Path file;
        private final SafetensorsFile tensors;
        private final Map<LoraNetwork, Map<String, long[]>> parameters;
        private final Map<LoraNetwork, Map<String, String>> kohyaIndexes = new EnumMap<>(LoraNetwork.class);

        Reader(Path file, SafetensorsFile tensors, Map<LoraNetwork, Map<String, long[]>> parameters) {
            this.file = file;
            this.tensors = tensors;
            this.parameters = parameters;
        }

        /** The keys of one module: its down, up and (optional) alpha tensors. */
        private static final class Group {
            final LoraNetwork network;
            final boolean kohya;
            final String name;      // the module's name in the file, prefix included
            final String path;      // after the prefix: kohya's underscored name, or diffusers' dotted module path
            String down;
            String up;
            String alpha;

            Group(LoraNetwork network, boolean kohya, String name, String path) {
                this.network = network;
                this.kohya = kohya;
                this.name = name;
                this.path = path;
            }
        }

        LoraFile read() throws IOException {
            Map<String, Group> groups = new LinkedHashMap<>();
            for (String key : tensors.names()) {
                classify(key, groups);
            }
            if (groups.isEmpty()) {
                throw new InvalidTensorFileException(file, "no LoRA modules (no lora_unet_* / lora_te_* or unet.* / text_encoder.* keys)");
            }
            List<LoraModule> modules = new ArrayList<>();
            Map<String, String> targetsSeen = new HashMap<>();
            for (Group group : groups.values()) {
                LoraModule module = resolve(group);
                String previous = targetsSeen.put(module.network() + " " + module.target(), group.name);
                if (previous != null) {
                    throw new InvalidTensorFileException(file, group.name, "patches " + module.target()
                            + ", which module '" + previous + "' of the same file patches too");
                }
                modules.add(module);
            }
            return new LoraFile(file, tensors.metadata(), modules);
        }

        private void classify(String key, Map<String, Group> groups) throws InvalidTensorFileException {
            for (LoraNetwork network : LoraNetwork.values()) {
                for (String prefix : network.kohyaPrefixes()) {
                    if (key.startsWith(prefix)) {
                        int dot = key.indexOf('.');
                        String suffix = dot < 0 ? "" : key.substring(dot);
                        if (dot < 0 || !(suffix.equals(KOHYA_DOWN) || suffix.equals(KOHYA_UP) || suffix.equals(ALPHA))) {
                            throw unknownKey(key);
                        }
                        String name = key.substring(0, dot);
                        Group g = groups.computeIfAbsent(name, n -> new Group(network, true, n, n.substring(prefix.length())));
                        assign(g, key, suffix.equals(KOHYA_DOWN) ? 0 : suffix.equals(KOHYA_UP) ? 1 : 2);
                        return;
                    }
                }
                String prefix = network.diffusersPrefix();
                if (key.startsWith(prefix)) {
                    for (String[] factors : DIFFUSERS_FACTORS) {
                        for (int role = 0; role < 2; role++) {
                            if (key.endsWith(factors[role])) {
                                String name = key.substring(0, key.length() - factors[role].length());
                                assign(diffusersGroup(groups, network, name, prefix), key, role);
                                return;
                            }
                        }
                    }
                    if (key.endsWith(ALPHA)) {
                        String name = key.substring(0, key.length() - ALPHA.length());
                        assign(diffusersGroup(groups, network, name, prefix), key, 2);
                        return;
                    }
                    throw unknownKey(key);
                }
            }
            throw unknownKey(key);
        }

        private static Group diffusersGroup(Map<String, Group> groups, LoraNetwork network, String name, String prefix) {
            return groups.computeIfAbsent(name, n -> new Group(network, false, n, n.substring(prefix.length())));
        }

        private void assign(Group g, String key, int role) throws InvalidTensorFileException {
            String previous = switch (role) {
                case 0 -> g.down;
                case 1 -> g.up;
                default -> g.alpha;
            };
            if (previous != null) {
                throw new InvalidTensorFileException(file, key, "module '" + g.name + "' already has '" + previous + "'");
            }
            switch (role) {
                case 0 -> g.down = key;
                case 1 -> g.up = key;
                default -> g.alpha = key;
            }
        }

        private InvalidTensorFileException unknownKey(String key) {
            return new InvalidTensorFileException(file, key, "not a LoRA key this reader knows (kohya: lora_unet_* / lora_te_* / "
                    + "lora_te1_* / lora_te2_* with .lora_down.weight, .lora_up.weight, .alpha; diffusers: unet.* / text_encoder.* / "
                    + "text_encoder_2.* with .lora.down/.lora.up, .lora_linear_layer.down/.up or .lora_A/.lora_B .weight)");
        }

        private LoraModule resolve(Group g) throws IOException {
            if (g.down == null || g.up == null) {
                throw new InvalidTensorFileException(file, g.name, "has no " + (g.down == null ? "down" : "up")
                        + " factor (" + (g.kohya ? (g.down == null ? KOHYA_DOWN : KOHYA_UP) : "down/A or up/B weight") + ")");
            }
            Map<String, long[]> params = parameters.get(g.network);
            if (params == null) {
                throw new InvalidTensorFileException(file, g.name, "patches the " + g.network
                        + ", which this model does not have");
            }
            String module = g.kohya ? kohyaModule(g, params) : g.path;
            String target = module + ".weight";
            long[] shape = params.get(target);
            if (shape == null) {
                throw new InvalidTensorFileException(file, g.name, "patches '" + module + "', which the model's "
                        + g.network + " does not have (no parameter " + target + ")");
            }
            return module(g, target, shape);
        }

        /** The canonical module a kohya name stands for, by matching the model's own names written with '_'. */
        private String kohyaModule(Group g, Map<String, long[]> params) throws InvalidTensorFileException {
            Map<String, String> index = kohyaIndexes.computeIfAbsent(g.network, n -> kohyaIndex(n, params));
            String module = index.get(g.path);
            if (module == null) {
                throw new InvalidTensorFileException(file, g.name, "no module of the model's " + g.network
                        + " is named '" + g.path + "' with '.' written as '_'");
            }
            if (module.isEmpty()) {
                throw new InvalidTensorFileException(file, g.name, "'" + g.path + "' matches more than one module of the model's "
                        + g.network + " with '.' written as '_'");
            }
            return module;
        }

        /**
         * underscored module name -> canonical module ("" where two modules collide). The U-Net's
         * original LDM names are added where the model's names have them.
         */
        private static Map<String, String> kohyaIndex(LoraNetwork network, Map<String, long[]> params) {
            Map<String, String> index = new HashMap<>();
            Map<String, String> original = Map.of();
            if (network == LoraNetwork.UNET) {
                try {
                    original = OriginalNames.unet(params.keySet());
                } catch (IllegalArgumentException e) {
                    // not an SD-shaped U-Net: only its canonical names are matched
                }
            }
            for (String key : params.keySet()) {
                if (!key.endsWith(".weight")) {
                    continue;
                }
                String module = key.substring(0, key.length() - ".weight".length());
                add(index, module.replace('.', '_'), module);
                String ldm = original.get(key);
                if (ldm != null && ldm.startsWith(OriginalLayouts.UNET_PREFIX) && ldm.endsWith(".weight")) {
                    String ldmModule = ldm.substring(OriginalLayouts.UNET_PREFIX.length(), ldm.length() - ".weight".length());
                    add(index, ldmModule.replace('.', '_'), module);
                }
            }
            return index;
        }

        private static void add(Map<String, String> index, String underscored, String module) {
            String previous = index.putIfAbsent(underscored, module);
            if (previous != null && !previous.equals(module)) {
                index.put(underscored, "");
            }
        }

        private LoraModule module(Group g, String target, long[] targetShape) throws IOException {
            TensorInfo down = tensors.info(g.down);
            TensorInfo up = tensors.info(g.up);
            long[] d = down.shape();
            long[] u = up.shape();
            LoraKind kind;
            if (targetShape.length == 2) {
                kind = LoraKind.LINEAR;
            } else if (targetShape.length == 4 && targetShape[2] == 1 && targetShape[3] == 1) {
                kind = LoraKind.CONV1X1;
            } else if (targetShape.length == 4) {
                kind = LoraKind.CONV_KXK;
            } else {
                throw new InvalidTensorFileException(file, g.name, "patches " + target + " of shape "
                        + Arrays.toString(targetShape) + ", which is neither a linear nor a convolution weight");
            }
            if (d.length == 0 || d[0] < 1 || d[0] > Integer.MAX_VALUE) {
                throw shapeError(g.down, "down", d, target, targetShape);
            }
            int rank = (int) d[0];
            long out = targetShape[0];
            long in = targetShape[1];
            // down: [r, in] or [r, in, 1, 1] (linear, 1x1), [r, in, kh, kw] (k x k); up: [out, r] or [out, r, 1, 1]
            boolean downFits = kind == LoraKind.CONV_KXK
                    ? Arrays.equals(d, new long[] {rank, in, targetShape[2], targetShape[3]})
                    : Arrays.equals(d, new long[] {rank, in}) || Arrays.equals(d, new long[] {rank, in, 1, 1});
            if (!downFits) {
                throw shapeError(g.down, "down", d, target, targetShape);
            }
            if (!(Arrays.equals(u, new long[] {out, rank}) || Arrays.equals(u, new long[] {out, rank, 1, 1}))) {
                throw shapeError(g.up, "up", u, target, targetShape);
            }
            float alpha = rank;
            if (g.alpha != null) {
                TensorInfo a = tensors.info(g.alpha);
                if (a.elementCount() != 1 || !a.dtype().isFloating()) {
                    throw new InvalidTensorFileException(file, g.alpha, "alpha must be one floating-point value, not "
                            + a.dtype() + Arrays.toString(a.shape()));
                }
                alpha = tensors.floats(g.alpha)[0];
                if (!Float.isFinite(alpha)) {
                    throw new InvalidTensorFileException(file, g.alpha, "alpha is " + alpha);
                }
            }
            return new LoraModule(g.network, target, targetShape, g.name, kind, rank, alpha,
                    finite(g.down), finite(g.up));
        }

        private float[] finite(String key) throws IOException {
            float[] values = tensors.floats(key);
            for (int i = 0; i < values.length; i++) {
                if (!Float.isFinite(values[i])) {
                    throw new InvalidTensorFileException(file, key, "holds a non-finite value (" + values[i] + ") at index " + i);
                }
            }
            return values;
        }

        private InvalidTensorFileException shapeError(String key, String factor, long[] shape, String target, long[] targetShape) {
            return new InvalidTensorFileException(file, key, factor + " factor of shape " + Arrays.toString(shape)
                    + " does not fit " + target + " of shape " + Arrays.toString(targetShape)
                    + " (linear / 1x1 conv: down [r, in] or [r, in, 1, 1], up [out, r] or [out, r, 1, 1]; "
                    + "k x k conv: down [r, in, kh, kw], up [out, r, 1, 1])");
        }
    }
}
