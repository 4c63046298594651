package daguerre.diffusion.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The CPU's model name and its vector and matrix features as the Linux kernel reports them in
 * {@code /proc/cpuinfo} (the {@code flags} line of the first processor; an ARM kernel's
 * {@code Features} line is read the same way). Elsewhere, or where the file cannot be read, the
 * model is {@code "unknown"} and no flag is present.
 *
 * <p>{@link #parse} is a pure function of the file's text, so that decisions built on it (16-bit
 * compute, wide kernels) can be tested with any CPU's text.
 *
 * @param model the {@code model name} line (x86), or {@code "unknown"}
 * @param flags every flag of the first processor, lower case, in the kernel's order
 */
public record CpuFeatures(String model, Set<String> flags) {

    /** The features {@code bench} reports, in print order (flag names as in {@code /proc/cpuinfo}). */
    public static final List<String> REPORTED = List.of(
            "avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile", "avx_vnni");

    private static final Path CPUINFO = Path.of("/proc/cpuinfo");
    private static final String UNKNOWN = "unknown";

    public CpuFeatures {
        flags = Collections.unmodifiableSet(new LinkedHashSet<>(flags));
    }

    /** This machine's, read now from {@code /proc/cpuinfo}; {@link #parse} of an empty text where there is none. */
    public static CpuFeatures current() {
        try {
            return parse(Files.readString(CPUINFO));
        } catch (NoSuchFileException e) {
            return parse("");
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + CPUINFO, e);
        }
    }

    /**
     * The model name and flags of the first processor block of a {@code /proc/cpuinfo} text
     * ({@code key<tabs>: value} lines, blocks separated by blank lines).
     */
    public static CpuFeatures parse(String cpuinfo) {
        String model = null;
        List<String> flags = null;
        for (String line : cpuinfo.split("\n")) {
            if (line.isBlank()) {
                if (model != null || flags != null) {
                    break;  // end of the first processor's block
                }
                continue;
            }
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String key = line.substring(0, colon).strip();
            String value = line.substring(colon + 1).strip();
            if (key.equals("model name") && model == null) {
                model = value.replaceAll("\\s+", " ");
            } else if ((key.equals("flags") || key.equals("Features")) && flags == null) {
                flags = value.isEmpty() ? List.of() : Arrays.asList(value.toLowerCase(java.util.Locale.ROOT).split("\\s+"));
            }
        }
        return new CpuFeatures(model == null || model.isEmpty() ? UNKNOWN : model, flags == null ? Set.of() : new LinkedHashSet<>(flags));
    }

    /** Whether the CPU reports {@code flag} (a {@code /proc/cpuinfo} name such as {@code avx512_bf16}). */
    public boolean has(String flag) {
        return flags.contains(flag);
    }

    /** Of {@link #REPORTED}, those present, in that order. */
    public List<String> reported() {
        List<String> present = new ArrayList<>();
        for (String flag : REPORTED) {
            if (has(flag)) {
                present.add(flag);
            }
        }
        return present;
    }

    /** {@link #reported()} joined by spaces, or {@code "none"}: the value of {@code bench}'s {@code cpu_features}. */
    public String reportedText() {
        List<String> present = reported();
        return present.isEmpty() ? "none" : String.join(" ", present);
    }

    /** 256-bit float FMAs: AVX2 and FMA3. */
    public boolean hasAvx2Fma() {
        return has("avx2") && has("fma");
    }

    /** 512-bit vectors (AVX-512 Foundation). */
    public boolean hasAvx512() {
        return has("avx512f");
    }

    /**
     * bfloat16 arithmetic in hardware: AVX-512 BF16 dot products ({@code avx512_bf16}) or AMX
     * bf16 tiles ({@code amx_bf16}). Without either, bf16 compute is emulated in float32 and is
     * slower than float32 itself.
     */
    public boolean hasNativeBf16() {
        return has("avx512_bf16") || has("amx_bf16");
    }

    /** float16 arithmetic in hardware on x86 (AVX-512 FP16). */
    public boolean hasNativeFp16() {
        return has("avx512_fp16");
    }

    /** AMX matrix tiles usable for bf16 (both the tile state and the bf16 tile multiply). */
    public boolean hasAmxBf16() {
        return has("amx_tile") && has("amx_bf16");
    }
}
