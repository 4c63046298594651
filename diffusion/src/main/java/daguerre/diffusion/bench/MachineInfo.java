package daguerre.diffusion.bench;

import daguerre.diffusion.DjlRuntime;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a benchmark figure depends on besides the code: the CPU and its vector and matrix features,
 * and the threading libtorch runs with.
 *
 * @param cpu the CPU's model name and flags
 * @param ompWaitPolicy the OpenMP wait policy in libtorch's process environment
 *     ({@code OMP_WAIT_POLICY}; {@code PASSIVE} unless the user set it, see {@link DjlRuntime}),
 *     or {@code "default (unset)"}
 * @param intraOpThreads libtorch's intra-op thread count
 * @param interopThreads libtorch's inter-op thread count
 * @param hugePageAllocations {@code THP_MEM_ALLOC_ENABLE} as libtorch reads it ({@code 1} unless the
 *     user set it, see {@link DjlRuntime}), or {@code unset}
 * @param transparentHugePages the kernel's transparent huge page mode ({@code always},
 *     {@code madvise} or {@code never}), or {@code unknown} where it cannot be read
 */
public record MachineInfo(CpuFeatures cpu, String ompWaitPolicy, int intraOpThreads, int interopThreads,
                          String hugePageAllocations, String transparentHugePages) {

    private static final Path THP_MODE = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");

    /** This process's, now (configures and loads the PyTorch engine if it is not yet). */
    public static MachineInfo current() {
        String policy = DjlRuntime.ompWaitPolicy();
        return new MachineInfo(CpuFeatures.current(), policy.equals("unset") ? "default (unset)" : policy,
                DjlRuntime.threads(), DjlRuntime.interopThreads(), DjlRuntime.hugePageSetting(), transparentHugePageMode());
    }

    /** The bracketed word of {@code /sys/kernel/mm/transparent_hugepage/enabled}, e.g. "always [madvise] never". */
    static String transparentHugePageMode() {
        try {
            Matcher selected = Pattern.compile("\\[(\\w+)]").matcher(Files.readString(THP_MODE, StandardCharsets.US_ASCII));
            return selected.find() ? selected.group(1) : "unknown";
        } catch (IOException | SecurityException e) {
            return "unknown";
        }
    }
}
